"""`autoencoder`: the Neuro-Visualizer (Elhamod & Karpatne), trained fast.

Architecture (appendix A): inputs standardised per coordinate over the fitted points; the encoder is
Linear + LayerNorm + ReLU blocks whose widths fall geometrically from P to 2 (three hidden layers by
default), then a Linear to 2 and a tanh, so codes lie in [-1, 1]^2; the decoder mirrors the hidden
widths and ends in a plain Linear to P.

Training recipe (measured on a busy 2-core CPU): Adam with minibatches of 128 (full batches, as
in PERF-NOTES.md, reached 24x below PCA in 30 s on 1,000 points, batches of 250 36x, of 100 59x),
a cosine learning-rate schedule sized to the budget (`epochs`, or `seconds` when given: the schedule
then follows the elapsed fraction of the time budget), float32 by default, keeping the best
checkpoint by training loss (full batches: the weights each loss was measured at; minibatches: the
weights at the end of the epoch with the lowest mean batch loss), and early stopping when the
epoch loss has not improved by a relative `min_delta` in `patience` epochs. The paper's RMSprop with
batches of 32 for 40,000-600,000 epochs is far slower. With minibatches, the anchoring loss sees the
anchored points at every step, the grid loss searches the nearest codes over all points with codes
refreshed once per epoch, and the spacing loss is applied on the first step of each epoch (it needs
every code). Encoding and decoding run in float64 on the CPU from the stored weights.

Large networks (`subspace`): on P inputs the first layer alone has about P^2 / 4 weights (100 M at
P = 1 M... far more than the trajectory can determine), so above `SUBSPACE_ABOVE` parameters the
autoencoder is fitted on the coordinates of the points in their top-k principal subspace (exact PCA by
the method of snapshots, read from the store block by block), and decodes back through that basis:
decode(z) = offset + B^T g(z) with B (k, P) orthonormal. The subspace residual ||x - offset - B^T B
(x - offset)|| / ||x|| of each fitted point is reported beside e_proj, which stays measured on the
full vectors; e_proj is never below it. The coordinates share one scale (not one per coordinate), so
the reconstruction loss is the full-space Euclidean error.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError
from pinnviz.manifolds._ae_losses import (
    ANCHORS,
    anchor_loss,
    anchor_targets,
    grid_concentration,
    grid_loss,
    reconstruction_loss,
    spacing_loss,
)
from pinnviz.manifolds._base import Manifold, as_latent, as_points, check_fit_input, check_fitted, check_segments
from pinnviz.manifolds._outofcore import RowSource, snapshot_pca

LN_EPS = 1e-5
SUBSPACE_ABOVE = 20_000  # parameters above which the autoencoder is fitted in a principal subspace
DEFAULT_SUBSPACE = 64  # k of that subspace unless given
MAX_SUBSPACE = 512


def geometric_widths(n_params: int, n_hidden: int) -> list[int]:
    """Hidden widths falling geometrically from n_params to 2, e.g. 480 -> [122, 31, 8]."""
    ratio = (2.0 / n_params) ** (1.0 / (n_hidden + 1))
    return [max(2, int(round(n_params * ratio ** (k + 1)))) for k in range(n_hidden)]


def build_networks(n_params: int, hidden: list[int]) -> tuple[torch.nn.Sequential, torch.nn.Sequential]:
    def block(a: int, b: int) -> list[torch.nn.Module]:
        return [torch.nn.Linear(a, b), torch.nn.LayerNorm(b, eps=LN_EPS), torch.nn.ReLU()]

    widths = [n_params, *hidden]
    enc = [m for a, b in zip(widths[:-1], widths[1:], strict=True) for m in block(a, b)]
    enc += [torch.nn.Linear(widths[-1], 2), torch.nn.Tanh()]
    back = [2, *reversed(hidden)]
    dec = [m for a, b in zip(back[:-1], back[1:], strict=True) for m in block(a, b)]
    dec += [torch.nn.Linear(back[-1], n_params)]
    return torch.nn.Sequential(*enc), torch.nn.Sequential(*dec)


class AutoencoderManifold(Manifold):
    """Neuro-Visualizer autoencoder: a learned 2-D manifold through the trajectory, latent [-1, 1]^2.

    Parameters
    ----------
    hidden : list of int or None, default=None
        Encoder hidden widths; None: `n_hidden` widths falling geometrically from n_params to 2.
    n_hidden : int, default=3
    anchor : {"none", "polar", "center", "circle"}, default="none"
    anchor_points : list of int or None
        Rows of X placed on the circle (`anchor="circle"`); None: each trajectory's last point.
    anchor_trajectory : int, default=0
        Which trajectory (segment) `polar` and `center` anchor.
    anchor_radius : float, default=0.8
    grid_scale : float or None, default=None
        The zoom s (the paper's l^max) of the grid-scaling loss; None disables that loss.
    grid_points : int, default=256
        Random grid points drawn per epoch for the grid-scaling loss.
    reconstruction_weight, anchor_weight, grid_weight, spacing_weight : float
        Loss weights (1, 10, 0.01, 0); a zero weight disables a loss. A grid weight of 1 swamped the
        reconstruction on the Poisson trajectories (error no better than PCA after 300 epochs); 0.01 kept
        it 6-9x below PCA while s=4 pulled the decoded grid 21x closer to the trajectory than s=1.
    epochs : int or None, default=2000
    seconds : float or None, default=None
        Time budget; with it the cosine schedule follows elapsed time (not bit-reproducible).
    lr : float, default=1e-3
    patience : int, default=300
        Early stopping: epochs without a relative improvement of `min_delta`.
    min_delta : float, default=1e-3
    seed : int, default=0
    device : str, default="cpu"
    dtype : {"float32", "float64"}, default="float32"
        Training precision (encode/decode always run in float64).
    threads : int or None, default=None
        torch CPU threads while training (restored afterwards); None: torch's setting. On a busy
        2-core machine 1 thread was 2-5x faster than 2.
    batch_size : int or None, default=128
        Minibatch size; None: full batches.
    subspace : int or None, default=None
        Fit in the top-k principal subspace of the points (k = `subspace`, at most min(n_points, 512));
        0: on the full vectors; None: automatic, k = 64 above `SUBSPACE_ABOVE` = 20,000 parameters,
        full vectors below.

    Attributes
    ----------
    mean_, scale_ : (n_params,) standardisation
    hidden_ : list of int
    weights_ : dict name -> float64 array, encoder ("encoder.*") and decoder ("decoder.*") parameters
    anchor_rows_ : (k,) anchored rows of the fitted X, anchor_targets_ : (k, 2)
    history_ : (epochs_,) training loss per epoch
    epochs_, best_epoch_, best_loss_, stopped_, train_seconds_
    subspace_ : k of the principal subspace, 0 for the full vectors; with k > 0, `offset_` (n_params,),
        `basis_` (k, n_params) orthonormal rows, `subspace_residual_` (n_points,) relative residual of
        each fitted point, and `mean_`, `scale_`, `weights_` refer to the k coordinates
    """

    method = "autoencoder"
    bounded_latent = True
    out_of_core = True  # fit() takes a store-backed RowSource (with a principal subspace)

    def __init__(self, *, hidden: list[int] | None = None, n_hidden: int = 3, anchor: str = "none",
                 anchor_points: list[int] | None = None, anchor_trajectory: int = 0, anchor_radius: float = 0.8,
                 grid_scale: float | None = None, grid_points: int = 256, reconstruction_weight: float = 1.0,
                 anchor_weight: float = 10.0, grid_weight: float = 0.01, spacing_weight: float = 0.0,
                 epochs: int = 2000, seconds: float | None = None, lr: float = 1e-3, patience: int = 300,
                 min_delta: float = 1e-3, seed: int = 0, device: str = "cpu", dtype: str = "float32",
                 threads: int | None = None, batch_size: int | None = 128, subspace: int | None = None) -> None:
        self.hidden = hidden
        self.n_hidden = n_hidden
        self.anchor = anchor
        self.anchor_points = anchor_points
        self.anchor_trajectory = anchor_trajectory
        self.anchor_radius = anchor_radius
        self.grid_scale = grid_scale
        self.grid_points = grid_points
        self.reconstruction_weight = reconstruction_weight
        self.anchor_weight = anchor_weight
        self.grid_weight = grid_weight
        self.spacing_weight = spacing_weight
        self.epochs = epochs
        self.seconds = seconds
        self.lr = lr
        self.patience = patience
        self.min_delta = min_delta
        self.seed = seed
        self.device = device
        self.dtype = dtype
        self.threads = threads
        self.batch_size = batch_size
        self.subspace = subspace

    # ------------------------------------------------------------------ validation
    def _validate(self, X: np.ndarray, segments) -> None:
        def bad(text: str) -> InvalidSettingError:
            return InvalidSettingError(f"autoencoder: {text}")

        if self.anchor not in ANCHORS:
            raise bad(f"anchor={self.anchor!r} must be one of {', '.join(ANCHORS)}")
        if not 0 <= self.anchor_trajectory < len(segments):
            raise bad(f"anchor_trajectory={self.anchor_trajectory} must be in 0..{len(segments) - 1}")
        if self.anchor_points is not None and any(not 0 <= int(i) < len(X) for i in self.anchor_points):
            raise bad(f"anchor_points must be rows 0..{len(X) - 1} of the fitted points")
        if not 0 < self.anchor_radius <= 1:
            raise bad(f"anchor_radius={self.anchor_radius} must be in (0, 1] (the latent box is [-1, 1]^2)")
        if self.hidden is not None and (len(self.hidden) < 1 or min(self.hidden) < 2):
            raise bad(f"hidden={self.hidden} needs at least one width, each >= 2")
        if self.hidden is None and self.n_hidden < 1:
            raise bad(f"n_hidden={self.n_hidden} must be >= 1")
        if self.epochs is not None and self.epochs < 1:
            raise bad(f"epochs={self.epochs} must be >= 1")
        if self.seconds is not None and not self.seconds > 0:
            raise bad(f"seconds={self.seconds} must be > 0")
        if self.epochs is None and self.seconds is None:
            raise bad("give epochs, seconds or both")
        if not self.lr > 0:
            raise bad(f"lr={self.lr} must be > 0")
        for name in ("reconstruction_weight", "anchor_weight", "grid_weight", "spacing_weight"):
            if not getattr(self, name) >= 0:
                raise bad(f"{name}={getattr(self, name)} must be >= 0")
        if self.batch_size is not None and self.batch_size < 1:
            raise bad(f"batch_size={self.batch_size} must be >= 1 (or None for full batches)")
        if self.threads is not None and self.threads < 1:
            raise bad(f"threads={self.threads} must be >= 1")
        if self.dtype not in ("float32", "float64"):
            raise bad(f"dtype={self.dtype!r} must be float32 or float64")
        check_device(self.device)
        if self.subspace is not None and not 0 <= self.subspace <= min(len(X), MAX_SUBSPACE):
            raise bad(f"subspace={self.subspace} must be between 0 (full vectors) and min(n_points, "
                      f"{MAX_SUBSPACE})={min(len(X), MAX_SUBSPACE)}")

    def subspace_size(self, n_points: int, n_params: int) -> int:
        """k of the principal subspace fitted in (0: the full vectors)."""
        if self.subspace is not None:
            return int(self.subspace)
        return min(DEFAULT_SUBSPACE, n_points) if n_params > SUBSPACE_ABOVE else 0

    # ------------------------------------------------------------------ fit
    def fit(self, X, *, segments=None, progress=None) -> AutoencoderManifold:
        """Train on X (n_points, n_params), an array or a store-backed `RowSource` (then in a subspace).

        `progress(fraction, epoch, losses)` is called about ten times a second with the elapsed
        fraction of the budget and the current loss terms (floats).
        """
        if isinstance(X, RowSource):
            source, segments = X, check_segments(X.n_points, segments)
        else:
            X, segments = check_fit_input(X, segments)
            source = RowSource.from_array(X)
        self._validate(np.empty((source.n_points, 0)), segments)
        k = self.subspace_size(source.n_points, source.n_params)
        if k == 0 and isinstance(X, RowSource):
            raise InvalidSettingError("autoencoder: on the full vectors it needs the points in memory; "
                                      "fit it in a principal subspace (subspace=K)")
        before = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(int(self.threads))
        try:
            if k == 0:
                self.subspace_ = 0
                return self._fit(X, segments, progress)
            return self._fit_subspace(source, segments, k, progress)
        finally:
            torch.set_num_threads(before)

    def _fit_subspace(self, source: RowSource, segments, k: int, progress) -> AutoencoderManifold:
        t_start = time.perf_counter()
        pca = snapshot_pca(source, k, device=self.device)
        residual = pca.residual_norms()
        ends = source.rows([i for a, b in segments for i in (a, b - 1)])
        self._fit(pca.coords, segments, progress, shared_scale=True)
        self.subspace_, self.offset_, self.basis_ = len(pca.components), pca.mean, pca.components
        self.subspace_residual_ = residual / np.sqrt(np.where(pca.sq_norms > 0, pca.sq_norms, 1.0))
        self._fit_coords, self._fit_residual = pca.coords, residual
        self._fit_spans = np.linalg.norm(ends[1::2] - ends[0::2], axis=1)
        self.train_seconds_ = time.perf_counter() - t_start
        return self

    def _fit(self, X, segments, progress, shared_scale: bool = False) -> AutoencoderManifold:
        t_start = time.perf_counter()
        device, dtype = torch.device(self.device), getattr(torch, self.dtype)
        n, P = X.shape
        mean, std = X.mean(axis=0), X.std(axis=0)
        scale = np.where(std > 0, std, 1.0)
        if shared_scale:  # principal coordinates: one scale, so the loss is the Euclidean error
            scale = np.full(P, float(np.sqrt(np.mean(std**2))) or 1.0)
        hidden = list(self.hidden) if self.hidden is not None else geometric_widths(P, self.n_hidden)
        rows, targets = anchor_targets(self.anchor, segments, radius=self.anchor_radius,
                                       points=self.anchor_points, reference=self.anchor_trajectory)

        torch.manual_seed(self.seed)
        cpu_gen = torch.Generator().manual_seed(self.seed)
        enc, dec = build_networks(P, hidden)
        enc, dec = enc.to(device, dtype), dec.to(device, dtype)
        params = [*enc.parameters(), *dec.parameters()]
        opt = torch.optim.Adam(params, lr=self.lr, foreach=True)

        def tensor(a):
            return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)

        Y = tensor((X - mean) / scale)
        rows_t = torch.as_tensor(rows, device=device)
        targets_t = tensor(targets)
        scale_t = tensor(scale)
        log_D = np.zeros(n)
        for a, b in segments:
            log_D[a:b] = math.log(max(float(np.linalg.norm(X[b - 1] - X[a])), 1e-300))
        log_D_t = tensor(log_D)
        use_anchor = self.anchor != "none" and self.anchor_weight > 0
        use_grid = self.grid_scale is not None and self.grid_weight > 0
        use_spacing = self.spacing_weight > 0

        weights = {"rec": self.reconstruction_weight, "anchor": self.anchor_weight,
                   "grid": self.grid_weight, "spacing": self.spacing_weight}
        batch = n if self.batch_size is None else min(int(self.batch_size), n)
        n_batches = -(-n // batch)
        history, best_loss, best_epoch, best_state = [], math.inf, 0, None
        last_report, stopped, epoch, last_improved, reference = 0.0, "epochs", 0, 0, math.inf
        t0 = time.perf_counter()
        while True:
            fraction = self._budget_fraction(epoch, time.perf_counter() - t0)
            if fraction >= 1.0:
                stopped = "epochs" if self.epochs and epoch >= self.epochs else "seconds"
                break
            order = torch.randperm(n, generator=cpu_gen).to(device) if batch < n else None
            if use_grid:  # nearest codes are searched over the whole trajectory, refreshed every epoch
                with torch.no_grad():
                    Z_all = enc(Y)
            epoch_loss, terms = 0.0, {}
            for k in range(n_batches):
                step_fraction = self._budget_fraction(epoch + k / n_batches, time.perf_counter() - t0)
                for group in opt.param_groups:
                    group["lr"] = self.lr * 0.5 * (1.0 + math.cos(math.pi * min(step_fraction, 1.0)))
                opt.zero_grad(set_to_none=True)
                Yb = Y if order is None else Y[order[k * batch:(k + 1) * batch]]
                Z = enc(Y) if (order is None or (use_spacing and k == 0)) else None
                Zb = Z if order is None else enc(Yb)
                terms = {"rec": reconstruction_loss(Yb, dec(Zb))}
                if use_anchor:
                    terms["anchor"] = anchor_loss(Z if Z is not None else enc(Y[rows_t]),
                                                  rows_t if Z is not None else torch.arange(len(rows_t)),
                                                  targets_t)
                if use_grid:
                    grid = torch.rand(self.grid_points, 2, generator=cpu_gen, dtype=dtype).to(device) * 2 - 1
                    terms["grid"] = grid_loss(enc, dec, Y, Z_all, grid, scale_t, log_D_t, float(self.grid_scale))
                if use_spacing and Z is not None:
                    terms["spacing"] = spacing_loss(Z, segments)
                loss = sum(weights[name] * value for name, value in terms.items())
                value = loss.detach().item()
                if not math.isfinite(value):
                    break
                if order is None and value < best_loss:  # full batch: snapshot the measured weights
                    best_state = [p.detach().clone() for p in params]
                loss.backward()
                opt.step()
                epoch_loss += value / n_batches
            if not math.isfinite(value):
                stopped = "non-finite loss"
                break
            history.append(epoch_loss)
            if epoch_loss < best_loss:
                if order is not None:  # minibatches: keep the weights at the end of the best epoch
                    best_state = [p.detach().clone() for p in params]
                if epoch_loss < reference * (1.0 - self.min_delta):  # a real improvement since the last one
                    reference, last_improved = epoch_loss, epoch
                best_loss, best_epoch = epoch_loss, epoch
            epoch += 1
            if epoch - last_improved > self.patience:
                stopped = "early"
                break
            if progress is not None and time.perf_counter() - last_report > 0.1:
                last_report = time.perf_counter()
                progress(min(fraction, 1.0), epoch, {name: v.detach().item() for name, v in terms.items()})
        if best_state is None:
            raise InvalidSettingError("autoencoder: the training loss was not finite at the first epoch; "
                                      "check the trajectories or lower lr")
        if progress is not None:
            progress(1.0, epoch, {"loss": best_loss})

        self.mean_, self.scale_, self.hidden_ = mean, scale, hidden
        names = [f"encoder.{k}" for k, _ in enc.named_parameters()]
        names += [f"decoder.{k}" for k, _ in dec.named_parameters()]
        self.weights_ = {name: b.detach().cpu().double().numpy().copy() for name, b in
                         zip(names, best_state, strict=True)}
        self.anchor_rows_, self.anchor_targets_ = rows, targets
        self.history_ = np.asarray(history)
        self.epochs_, self.best_epoch_, self.best_loss_ = epoch, best_epoch, best_loss
        self.stopped_, self.train_seconds_ = stopped, time.perf_counter() - t_start
        self._nets = None
        self._set_extent(np.array([[-1.0, -1.0], [1.0, 1.0]]))
        return self

    def _budget_fraction(self, epochs_done: float, elapsed: float) -> float:
        return max(epochs_done / self.epochs if self.epochs else 0.0,
                   elapsed / self.seconds if self.seconds else 0.0)

    # ------------------------------------------------------------------ encode / decode (float64, CPU)
    def _networks(self) -> tuple[torch.nn.Sequential, torch.nn.Sequential]:
        if getattr(self, "_nets", None) is None:
            enc, dec = build_networks(len(self.mean_), self.hidden_)
            enc, dec = enc.double(), dec.double()
            with torch.no_grad():
                for prefix, net in (("encoder.", enc), ("decoder.", dec)):
                    for name, p in net.named_parameters():
                        p.copy_(torch.from_numpy(self.weights_[prefix + name]))
            self._nets = (enc.eval(), dec.eval())
        return self._nets

    def encode(self, X) -> np.ndarray:
        check_fitted(self, "weights_")
        if getattr(self, "subspace_", 0):
            X = as_points(X, n_params=self.basis_.shape[1])
            X = (X - self.offset_) @ self.basis_.T  # (n, P) @ (P, k)
        else:
            X = as_points(X, n_params=len(self.mean_))
        enc, _ = self._networks()
        with torch.no_grad():
            return enc(torch.from_numpy((X - self.mean_) / self.scale_)).numpy()

    def _decode_coefficients(self, Z) -> np.ndarray:
        """The decoder's output (n, inputs): the vectors, or their subspace coordinates."""
        check_fitted(self, "weights_")
        _, dec = self._networks()
        with torch.no_grad():
            Y = dec(torch.from_numpy(np.ascontiguousarray(as_latent(Z)))).numpy()
        return Y * self.scale_ + self.mean_

    def decode(self, Z) -> np.ndarray:
        Y = self._decode_coefficients(Z)
        if getattr(self, "subspace_", 0):
            return Y @ self.basis_ + self.offset_  # (n, k) @ (k, P)
        return Y

    def affine_decoder(self):
        """In a subspace, decode(Z) = coefficients(Z) @ basis + offset: (offset, basis (k, P), coefficients);
        None on the full vectors."""
        check_fitted(self, "weights_")
        if not getattr(self, "subspace_", 0):
            return None
        return self.offset_, self.basis_, self._decode_coefficients

    def grid_concentration(self, X, segments) -> float:
        """`_ae_losses.grid_concentration` of the fitted points X (exact in a subspace, from its residuals)."""
        if getattr(self, "subspace_", 0):
            return grid_concentration(self._decode_coefficients, self._fit_coords, segments,
                                      residual=self._fit_residual, spans=self._fit_spans)
        return grid_concentration(self.decode, X, segments)

    # ------------------------------------------------------------------ persistence
    def get_state(self):
        check_fitted(self, "weights_")
        arrays = {"mean_": self.mean_, "scale_": self.scale_, "anchor_rows_": self.anchor_rows_,
                  "anchor_targets_": self.anchor_targets_, "history_": self.history_}
        arrays.update({f"weights/{k}": v for k, v in self.weights_.items()})
        attrs = {"hidden_": list(self.hidden_), "epochs_": int(self.epochs_), "best_epoch_": int(self.best_epoch_),
                 "best_loss_": float(self.best_loss_), "stopped_": self.stopped_,
                 "train_seconds_": float(self.train_seconds_), "extent_": list(self.extent_),
                 "weight_names": list(self.weights_), "subspace_": int(getattr(self, "subspace_", 0))}
        if attrs["subspace_"]:
            arrays.update({"offset_": self.offset_, "basis_": self.basis_,
                           "subspace_residual_": self.subspace_residual_})
        return arrays, attrs

    @classmethod
    def from_state(cls, hyper, arrays, attrs) -> AutoencoderManifold:
        self = cls(**hyper)
        for name in ("mean_", "scale_", "anchor_rows_", "anchor_targets_", "history_"):
            setattr(self, name, arrays[name])
        self.weights_ = {k: arrays[f"weights/{k}"] for k in attrs["weight_names"]}
        self.hidden_ = [int(h) for h in attrs["hidden_"]]
        self.epochs_, self.best_epoch_ = int(attrs["epochs_"]), int(attrs["best_epoch_"])
        self.best_loss_, self.stopped_ = float(attrs["best_loss_"]), attrs["stopped_"]
        self.train_seconds_ = float(attrs["train_seconds_"])
        self.extent_ = tuple(attrs["extent_"])
        self.subspace_ = int(attrs.get("subspace_", 0))
        if self.subspace_:
            self.offset_, self.basis_ = arrays["offset_"], arrays["basis_"]
            self.subspace_residual_ = arrays["subspace_residual_"]
        self._nets = None
        return self
