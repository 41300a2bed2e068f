"""A tanh MLP held as a flat parameter vector, evaluated for many vectors at once.

Value, input-Jacobian and input-Hessian are propagated analytically through the layers
(forward mode), batched over parameter vectors. Value, the d first-derivative channels and
the d(d+1)/2 second-derivative channels (a <= b) are stacked along one axis so each linear layer is a
single batched matmul.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from pinnviz.errors import InvalidSettingError, unknown_name
from pinnviz.nets._layout import ParamLayout

ACTIVATIONS = ("tanh", "x+tanh")

# distance(x [N, d]) -> (D [N], dD [N, d], d2D [N, d, d]) for the hard boundary-condition ansatz
DistanceFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Fields:
    """Network output and its input derivatives for G parameter vectors at N points.

    value : (G, N, outputs); grad : (G, M, outputs, d) or None; hess : (G, M, outputs, d, d) or None.
    Derivatives cover the leading M <= N points: all of them, unless a problem's `derivative_points`
    says only its first points need derivatives (`PhysicsLosses` then evaluates the others value-only).
    """

    value: torch.Tensor
    grad: torch.Tensor | None
    hess: torch.Tensor | None


class MLP:
    """Fully connected network inputs -> width x depth -> outputs on a flat parameter vector.

    Parameters
    ----------
    inputs, outputs : int
        Input dimension d and output dimension.
    width, depth : int
        Hidden layer width and number of hidden layers.
    activation : {"tanh", "x+tanh"}
    bc : {"hard", "none"}
        "hard": the problem's distance function multiplies every neuron of the last hidden layer
        (the basis functions), as in the paper's ansatz u = D(x) N(x).
    output_bias : bool
        Whether the output layer has a bias. The hard-BC ansatz has none.

    Example
    -------
    >>> MLP(inputs=1, outputs=1, width=20, depth=2).layout.size
    480
    """

    def __init__(
        self,
        inputs: int = 1,
        outputs: int = 1,
        width: int = 20,
        depth: int = 2,
        *,
        activation: str = "tanh",
        bc: str = "hard",
        output_bias: bool = False,
    ) -> None:
        for label, value in (("inputs", inputs), ("outputs", outputs), ("width", width), ("depth", depth)):
            if int(value) < 1:
                raise InvalidSettingError(f"{label}={value} must be >= 1")
        if activation not in ACTIVATIONS:
            raise unknown_name("activation", activation, ACTIVATIONS)
        if bc not in ("hard", "none"):
            raise unknown_name("bc", bc, ("hard", "none"))
        self.inputs, self.outputs = int(inputs), int(outputs)
        self.width, self.depth = int(width), int(depth)
        self.activation, self.bc, self.output_bias = activation, bc, bool(output_bias)
        shapes: list[tuple[str, tuple[int, ...]]] = []
        fan_in = self.inputs
        for k in range(self.depth):
            shapes += [(f"hidden.{k}.weight", (self.width, fan_in)), (f"hidden.{k}.bias", (self.width,))]
            fan_in = self.width
        shapes.append(("output.weight", (self.outputs, self.width)))
        if self.output_bias:
            shapes.append(("output.bias", (self.outputs,)))
        self.layout = ParamLayout(shapes)
        self._hidden_layout = ParamLayout(shapes[: -2 if self.output_bias else -1])  # a leading part of theta

    # ------------------------------------------------------------------ description
    def settings(self) -> dict:
        """Everything needed to rebuild this network (stored as the `model` attribute of a run)."""
        return {
            "kind": "mlp",
            "inputs": self.inputs,
            "outputs": self.outputs,
            "width": self.width,
            "depth": self.depth,
            "activation": self.activation,
            "bc": self.bc,
            "output_bias": self.output_bias,
            "layout": self.layout.to_list(),
        }

    @classmethod
    def from_settings(cls, settings: dict) -> MLP:
        net = cls(
            settings["inputs"],
            settings["outputs"],
            settings["width"],
            settings["depth"],
            activation=settings.get("activation", "tanh"),
            bc=settings.get("bc", "hard"),
            output_bias=settings.get("output_bias", False),
        )
        if "layout" in settings and settings["layout"] != net.layout.to_list():
            raise InvalidSettingError("stored parameter layout does not match the model settings")
        return net

    @property
    def n_params(self) -> int:
        return self.layout.size

    def channels(self, order: int) -> int:
        """Channels a hidden layer carries at derivative `order`: value, d first, d(d+1)/2 second derivatives."""
        return _n_channels(self.inputs, order)

    # ------------------------------------------------------------------ initialisation
    def init(self, n: int, *, scale: float = 1.0, generator: torch.Generator | None = None,
             dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """n parameter vectors drawn as PyTorch's nn.Linear default, U(+-1/sqrt(fan_in)), times `scale`."""
        theta = torch.empty(n, self.n_params, dtype=dtype)
        for entry in self.layout.entries:
            fan_in = entry.shape[1] if len(entry.shape) == 2 else self._fan_in_of_bias(entry.name)
            bound = 1.0 / math.sqrt(fan_in)
            block = torch.rand(n, entry.size, generator=generator, dtype=dtype) * 2.0 - 1.0
            theta[:, entry.offset : entry.offset + entry.size] = block * bound * scale
        return theta

    def _fan_in_of_bias(self, name: str) -> int:
        weight = self.layout._by_name[name.replace(".bias", ".weight")]
        return weight.shape[1]

    # ------------------------------------------------------------------ evaluation
    def fields(self, theta: torch.Tensor, x: torch.Tensor, order: int = 2,
               distance: DistanceFn | None = None, *, functional: bool = False) -> Fields:
        """Output and its x-derivatives up to `order` (0, 1 or 2) for every vector in theta.

        Parameters
        ----------
        theta : (G, n_params)
        x : (N, inputs)
        distance : the problem's distance function, required when bc == "hard".
        functional : never write in place (for torch.func transforms such as `hessian` and `vmap`).

        Hidden states are kept features-major, h (G, width, C, N), with C stacked channels
        [value, d/dx_a, d2/dx_a dx_b], so every layer is one (width x width) @ (width x C*N) bmm.
        Without autograd the channels are written into one buffer in place (no concatenation).
        """
        if order not in (0, 1, 2):
            raise InvalidSettingError(f"derivative order={order} must be 0, 1 or 2")
        if self.bc == "hard" and distance is None:
            raise InvalidSettingError("a hard-BC network needs the problem's distance function")
        G, N, d = theta.shape[0], x.shape[0], self.inputs
        trainable = torch.is_grad_enabled() and theta.requires_grad and not functional
        if order == 1 and d >= 2 and self.outputs == 1 and trainable:
            return self._first_order_by_reverse_mode(theta, x, distance)
        params = self.layout.split(theta)
        h = self._hidden(theta, x, order, functional)  # (G, width, C, N)
        C = h.shape[2]
        Wo = params["output.weight"]  # (G, outputs, width)
        # (G, outputs, width) @ (G, width, C*N) -> (G, outputs, C, N)
        out = torch.bmm(Wo, h.reshape(G, self.width, C * N)).reshape(G, self.outputs, C, N)
        if self.bc == "hard":
            # D(x) times each basis function followed by the bias-free output layer equals D(x)
            # times the output: apply the product rule once, on the outputs.
            out = _times_distance(out, distance(x), d, order)
        value = out[:, :, 0].transpose(1, 2)  # (G, N, outputs)
        if self.output_bias:
            value = value + params["output.bias"][:, None, :]
        grad = out[:, :, 1 : 1 + d].permute(0, 3, 1, 2) if order >= 1 else None  # (G, N, outputs, d)
        hess = None
        if order >= 2:  # the d(d+1)/2 channels a <= b, each placed at (a, b) and (b, a)
            upper = out[:, :, 1 + d :]
            if d > 1:
                upper = upper.index_select(2, _full_hessian_index(d, upper.device))
            hess = upper.permute(0, 3, 1, 2).reshape(G, N, self.outputs, d, d)
        return Fields(value, grad, hess)

    def last_hidden(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Activations of the last hidden layer (G, N, width): the basis functions before D(x).

        The same forward pass as `fields` (order 0), stopped before the output layer.
        """
        return self._hidden(theta, x, 0, functional=False)[:, :, 0, :].transpose(1, 2)

    def _hidden(self, theta: torch.Tensor, x: torch.Tensor, order: int, functional: bool) -> torch.Tensor:
        """Stacked channels h (G, width, C, N) of the last hidden layer."""
        G, N, d = theta.shape[0], x.shape[0], self.inputs
        in_place = not (functional or (torch.is_grad_enabled() and theta.requires_grad))
        # Pre-activations are carried doubled (2z, 2J, 2H): see _activation. The hidden layers' tensors are
        # doubled together, in one operation on the leading part of theta.
        doubled = self._hidden_layout.split(2.0 * theta[:, : self._hidden_layout.size])
        W2 = doubled["hidden.0.weight"]  # (G, width, d)
        b2 = doubled["hidden.0.bias"]  # (G, width)
        if d == 1:  # an outer product: (G, width, 1) * (1, N) + b -> (G, width, N)
            z2 = torch.addcmul(b2[:, :, None], W2, x.T)
        else:  # (G, width, d) @ (G, d, N) + b -> (G, width, N)
            z2 = torch.baddbmm(b2[:, :, None], W2, x.T.expand(G, d, N))
        h = _stacked_first_layer(z2, W2, order, self.activation, in_place)  # (G, width, C, N)
        C = h.shape[2]
        for k in range(1, self.depth):
            W2 = doubled[f"hidden.{k}.weight"]  # (G, width, width)
            b2 = doubled[f"hidden.{k}.bias"]
            # (G, width, width) @ (G, width, C*N) -> (G, width, C, N); bias only on the value channel
            z2 = torch.bmm(W2, h.reshape(G, self.width, C * N)).reshape(G, self.width, C, N)
            # unbind, not repeated indexing: under autograd each index would zero-fill a full-size
            # gradient buffer in the backward pass
            zs = list(z2.unbind(dim=2))
            if in_place:
                zs[0] += b2[:, :, None]
            else:
                zs[0] = zs[0] + b2[:, :, None]
            h = _stacked_hidden_layer(zs, d, order, self.activation, in_place)
        return h


    def _first_order_by_reverse_mode(self, theta: torch.Tensor, x: torch.Tensor,
                                     distance: DistanceFn | None) -> Fields:
        """Value and x-gradient for training (autograd on theta) of a scalar output with d >= 2 inputs.

        Forward mode carries 1 + d channels through every layer, and the backward pass in theta costs
        twice that again; one reverse pass in x (create_graph) costs about one channel, so for d >= 2
        this is the cheaper way to a trainable gradient (the plain nn.Module loop's way, batched).
        """
        G, N, d = theta.shape[0], x.shape[0], self.inputs
        X = x.T.unsqueeze(0).expand(G, d, N).clone().requires_grad_(True)  # one leaf per vector
        # tanh z = 2 sigmoid(2z) - 1, with the affine part folded into the next layer's (tiny) weights:
        # W tanh(z) + b = 2W sigmoid(2z) + (b - W 1), so the big tensors see only sigmoid
        h, scale, shift = X, 1.0, 0.0  # the layer input is scale * h + shift
        params = self.layout.split(theta)
        for k in range(self.depth):
            W = params[f"hidden.{k}.weight"]
            b = params[f"hidden.{k}.bias"]
            b2 = 2.0 * (b + shift * W.sum(dim=2)) if k else 2.0 * b
            z2 = torch.baddbmm(b2[:, :, None], (2.0 * scale) * W, h)  # (G, width, N): 2z
            if self.activation == "x+tanh":
                h, scale, shift = 2.0 * torch.sigmoid(z2) - 1.0 + 0.5 * z2, 1.0, 0.0
            else:
                h, scale, shift = torch.sigmoid(z2), 2.0, -1.0
        Wo = params["output.weight"]  # (G, 1, width)
        y = torch.baddbmm((shift * Wo.sum(dim=2))[:, :, None], scale * Wo, h)  # (G, 1, N)
        (dy,) = torch.autograd.grad(y.sum(), X, create_graph=True)  # (G, d, N)
        y, dy = y[:, 0], dy
        if self.bc == "hard":
            D, dD, _ = distance(x)
            y, dy = D * y, D * dy + dD.T * y[:, None, :]
        value = y[:, :, None]  # (G, N, 1)
        if self.output_bias:
            value = value + params["output.bias"][:, None, :]
        return Fields(value, dy.transpose(1, 2)[:, :, None, :], None)


def _activation(z2: torch.Tensor, kind: str, in_place: bool, out: torch.Tensor | None = None):
    """Activation of a *doubled* pre-activation z2 = 2z: s(z), s'(z)/2 and c(z), where s''/s' = -2c.

    tanh z = 2 sigmoid(2z) - 1 is several times faster than torch.tanh on CPU, and feeding 2z
    (weights doubled before the matmul, a tiny tensor) saves a pass over the large one.
    For tanh c = tanh z; for "x+tanh" (non-saturating, s = z + tanh z) c = tanh tanh' / (1 + tanh').
    With `in_place`, s is written into `out` (a slot of the layer's channel buffer).
    """
    if in_place:
        t = torch.sigmoid(z2, out=out).mul_(2.0).sub_(1.0)
    else:
        t = 2.0 * torch.sigmoid(z2) - 1.0
    half_dt = torch.addcmul(t.new_full((), 0.5), t, t, value=-0.5)  # (1 - tanh^2) / 2
    if kind == "x+tanh":
        half_ds = half_dt + 0.5
        curv = t * half_dt / half_ds
        s = t.add_(z2, alpha=0.5) if in_place else t + 0.5 * z2
        return s, half_ds, curv
    return t, half_dt, t


class _Channels:
    """Collects the C channels of a layer: written in place into one buffer, or stacked for autograd."""

    def __init__(self, like: torch.Tensor, n_channels: int, in_place: bool) -> None:
        self.buffer = like.new_empty(*like.shape[:2], n_channels, like.shape[2]) if in_place else None
        self.parts: list[torch.Tensor] = []

    def out(self) -> torch.Tensor | None:
        return None if self.buffer is None else self.buffer[:, :, len(self.parts)]

    def add(self, value: torch.Tensor) -> None:
        self.parts.append(value)

    def mul(self, a: torch.Tensor, b: torch.Tensor) -> None:
        self.parts.append(torch.mul(a, b, out=self.out()))

    def scale(self, value: torch.Tensor, factor: torch.Tensor) -> None:
        """Append value * factor, in place where value already sits in the buffer."""
        self.parts.append(value.mul_(factor) if self.buffer is not None else value * factor)

    def result(self) -> torch.Tensor:
        if self.buffer is not None:
            return self.buffer
        return torch.stack(self.parts, dim=2)


def _pairs(d: int) -> list[tuple[int, int]]:
    """The second-derivative channels: d2/dx_a dx_b for a <= b (the Hessian is symmetric)."""
    return [(a, b) for a in range(d) for b in range(a, d)]


@functools.lru_cache(maxsize=16)
def _full_hessian_index(d: int, device: torch.device) -> torch.Tensor:
    """For each (a, b) of the d x d Hessian in row-major order, its channel among `_pairs(d)`."""
    where = {pair: i for i, pair in enumerate(_pairs(d))}
    return torch.tensor([where[(min(a, b), max(a, b))] for a in range(d) for b in range(d)], device=device)


def _n_channels(d: int, order: int) -> int:
    return 1 + (d if order >= 1 else 0) + (d * (d + 1) // 2 if order >= 2 else 0)


def _stacked_first_layer(z2, W2, order, kind, in_place):
    """First layer from z2 = 2z (G, width, N) and W2 = 2W: dz/dx_a = W_a everywhere, d2z/dx2 = 0."""
    d = W2.shape[2]
    ch = _Channels(z2, _n_channels(d, order), in_place)
    s, half_ds, curv = _activation(z2, kind, in_place, ch.out())
    ch.add(s)
    for a in range(d if order >= 1 else 0):
        ch.mul(half_ds, W2[:, :, a, None])
    for a, b in _pairs(d) if order >= 2 else ():
        ch.scale(torch.mul(curv, -(W2[:, :, a] * W2[:, :, b])[:, :, None], out=ch.out()), half_ds)
    return ch.result()


def _stacked_hidden_layer(zs, d, order, kind, in_place):
    """J' = s' J and H' = s' H + s'' J (x) J, on doubled channels zs = 2 (z, J, H), each (G, width, N).

    With s'' = -2 c s': J' = (s'/2) J2 and H' = (s'/2) (H2 - c J2 (x) J2).
    """
    ch = _Channels(zs[0], _n_channels(d, order), in_place)
    s, half_ds, curv = _activation(zs[0], kind, in_place, ch.out())
    ch.add(s)
    for a in range(d if order >= 1 else 0):
        ch.mul(half_ds, zs[1 + a])
    for i, (a, b) in enumerate(_pairs(d) if order >= 2 else ()):
        jj = zs[1 + a] * zs[1 + b]
        ch.scale(torch.addcmul(zs[1 + d + i], curv, jj, value=-1.0, out=ch.out()), half_ds)
    return ch.result()


def _times_distance(out, dist, d, order):
    """Product rule for D(x) * y(x) on stacked channels out (G, outputs, C, N)."""
    D, dD, d2D = dist  # (N,), (N, d), (N, d, d)
    ys = out.unbind(dim=2)  # each (G, outputs, N)
    y = ys[0]
    channels = [D * y]
    if order >= 1:
        channels += [D * ys[1 + a] + dD[:, a] * y for a in range(d)]
    for i, (a, b) in enumerate(_pairs(d) if order >= 2 else ()):
        channels.append(D * ys[1 + d + i] + dD[:, a] * ys[1 + b] + dD[:, b] * ys[1 + a] + d2D[:, a, b] * y)
    return torch.stack(channels, dim=2)
