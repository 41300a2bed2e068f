"""Re-run the cheap checks of docs/reproduction.md and fail when a number drifts beyond its tolerance.

    python docs/scripts/check_reproduction.py [--workdir DIR] [--page docs/reproduction.md] [--only KEY,...]

The page holds a table between the markers `<!-- checked:begin -->` and `<!-- checked:end -->`, one row
per number: `| key | value | tolerance | command |`. This script trains what those numbers need (two
7,500-step Poisson runs, seed 0, about half a minute of CPU each; reused when already in DIR), calls
the library functions behind the page's `pinnviz probe` commands (in one process), measures every key
and compares it with the page's value. Tolerance forms: `exact`, `±X` (absolute), `±X%` (relative) and
`xF` (within a factor F either way). Exit status 1 when a number is off, 2 when the page and this script
disagree on the keys. `--measure` only prints the measured numbers.

It takes a few minutes on a busy 2-core machine, so it is a script, not a test (the fast test
`tests/test_reproduction_page.py` only checks that the page's table and this script's keys agree).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- checked:begin -->", "<!-- checked:end -->"
PAIRS = 9
RESOLUTION = 31


def read_table(page: Path) -> dict[str, tuple[str, str]]:
    """{key: (value text, tolerance text)} from the page's checked-numbers tables (every marked block)."""
    text = page.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{page}: no {BEGIN} ... {END} table")
    rows = {}
    for block in text.split(BEGIN)[1:]:  # one table per section of the page
        for line in block.split(END, 1)[0].splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 3 or not cells[0].startswith("`"):
                continue
            rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def within(measured: float, value: float, tolerance: str) -> bool:
    """Whether `measured` agrees with the page's `value` under the page's `tolerance` text."""
    tol = tolerance.replace(" ", "")
    if tol == "exact":
        return measured == value
    if tol.startswith("x"):
        factor = float(tol[1:])
        return value != 0 and measured / value > 0 and 1 / factor <= measured / value <= factor
    if tol.startswith("±") and tol.endswith("%"):
        return abs(measured - value) <= abs(value) * float(tol[1:-1]) / 100
    if tol.startswith("±"):
        return abs(measured - value) <= float(tol[1:])
    raise SystemExit(f"tolerance {tolerance!r}: use exact, ±X, ±X% or xF")


def number(text: str) -> float:
    match = re.search(r"-?\d+(\.\d+)?(e-?\d+)?", text.replace("**", ""))
    if match is None:
        raise SystemExit(f"no number in {text!r}")
    return float(match.group(0))


class Work:
    """The stores under `root`, trained and probed on first use by the page's own commands."""

    def __init__(self, root: Path):
        self.root = root
        self.store = root / "run.zarr"
        self.done: set[str] = set()

    def pinnviz(self, *args: str) -> None:
        cmd = ["nice", "-n", "10", sys.executable, "-m", "pinnviz", "--threads", "1", *args]
        print("$", " ".join(cmd[3:]), flush=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)


    def run(self, mode: str = "r"):
        from pinnviz.store import open_run

        for loss in ("drm", "pinn"):
            if not self._complete(loss):
                self.pinnviz("train", "poisson1d", "--loss", loss, "--steps", "7500", "--name", loss,
                             "--out", str(self.store))
        return open_run(self.store, mode=mode, overwrite=mode != "r")  # re-measure probes of a reused DIR

    def _complete(self, loss: str) -> bool:
        from pinnviz.store import open_run

        if not self.store.exists():
            return False
        run = open_run(self.store)
        return loss in run.trajectory_names() and run.trajectory_attrs(loss).get("status") == "complete"

    def probe(self, name: str, call: Callable):
        """Run `call(run)` once (the library function the page's `pinnviz probe` command calls, in this
        process: one interpreter start instead of one per command), then read `probes/<name>`."""
        from pinnviz.probes import load_probe

        if name not in self.done:
            call(self.run("r+"))
            self.done.add(name)
        return load_probe(self.run(), name)


def final_loss(work: Work, loss: str, column: str) -> float:
    return float(work.run().trajectory(loss).losses[column][-1])


def pca_first_two(work: Work, loss: str) -> float:
    from pinnviz.probes.trajectory_pca import trajectory_pca

    _, attrs = work.probe(f"trajectory-pca-{loss}", lambda run: trajectory_pca(run, loss, landscape=False))
    return 100 * attrs["first_two"]


def pca_first(work: Work, loss: str) -> float:
    from pinnviz.probes.trajectory_pca import trajectory_pca

    arrays, _ = work.probe(f"trajectory-pca-{loss}", lambda run: trajectory_pca(run, loss, landscape=False))
    return 100 * float(arrays["explained_variance_ratio"][0])


def basis_attr(work: Work, loss: str, key: str) -> float:
    from pinnviz.probes.basis import basis

    _, attrs = work.probe(f"basis-{loss}", lambda run: basis(run, loss, landscape=False))
    return float(attrs[key])


def variance(work: Work, integrand: str) -> float:
    """Integrand variance at the pinn solution, as `random-planes --stochastic` stores it (1 tiny plane)."""
    from pinnviz.probes import random_planes

    _, attrs = work.probe("random-planes-final-pinn-mc100", lambda run: random_planes(
        run, "pinn", at="final", losses=["drm", "pinn"], stochastic=100, pairs=1, resolution=2))
    return float(attrs["variance"][integrand])


def residual_variance(work: Work) -> float:
    """Variance of r = u'' + f itself (not of 1/2 r^2) at the pinn solution, on the run's 100 midpoints."""
    import torch

    run = work.run()
    physics = run.physics()
    theta = torch.as_tensor(run.trajectory("pinn").params[-1:])
    batch = physics.prepare(theta)
    distance = (lambda _x: batch["distance"]) if physics.net.bc == "hard" else None
    with torch.no_grad():
        fields = physics.net.fields(theta, batch["x"], 2, distance)
    r = (fields.hess[..., 0, 0, 0] + batch["f"])[0]
    w = batch["w"] / batch["w"].sum()
    return float((r * r) @ w - (r @ w) ** 2)


def spectrum_ends(work: Work, loss: str, key: str) -> float:
    """The page's `probe spectrum` at the first and last rows only (two exact Hessians per loss)."""
    from pinnviz.probes.spectrum import spectrum

    arrays, _ = work.probe(f"spectrum-{loss}-ends", lambda run: spectrum(
        run, loss, every=10**9, name=f"spectrum-{loss}-ends"))
    final = arrays["eigenvalues"][-1]
    values = {"near_zero": (np.abs(final) < 1e-3 * np.abs(final).max()).sum(), "largest_initial":
              arrays["largest"][0], "largest_final": arrays["largest"][-1],
              "most_negative_final": arrays["most_negative"][-1]}
    return float(values[key])


def bowls(grids: np.ndarray) -> int:
    """Planes (K, R, R) whose loss rises (never falls, to 1e-9 of the range) along all 8 grid rays from the centre."""
    count = 0
    c = grids.shape[1] // 2
    for grid in grids:
        tol = 1e-9 * float(np.ptp(grid))
        ok = True
        for di, dj in ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)):
            ray = [grid[c + k * di, c + k * dj] for k in range(c + 1)]
            ok &= bool(np.all(np.diff(ray) >= -tol))
        count += ok
    return count


def filter_planes(work: Work, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """The page's random-planes probe at the solution: (grids (9, 31, 31), directions (9, 2, P))."""
    from pinnviz.probes import random_planes

    arrays, _ = work.probe(f"random-planes-final-{loss}", lambda run: random_planes(run, loss, losses=[loss]))
    return arrays[f"loss/{loss}"], arrays["directions"]


def unit_planes(work: Work, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """The paper's planes: the same seeded Gaussian directions scaled to unit length, coordinates in [-1, 1]."""
    import torch

    from pinnviz.probes.random_planes import plane_directions

    run = work.run()
    center = run.trajectory(loss).params[-1]
    directions = np.stack([plane_directions(center, None, k, "none") for k in range(PAIRS)])
    directions /= np.linalg.norm(directions, axis=2, keepdims=True)
    axis = np.linspace(-1, 1, RESOLUTION)
    a, b = np.meshgrid(axis, axis)
    coef = np.stack([a.ravel(), b.ravel()], axis=1)
    theta = center[None, None] + np.einsum("gc,kcp->kgp", coef, directions)
    values = run.physics().evaluate(torch.as_tensor(theta.reshape(-1, len(center))), [loss])[loss].numpy()
    return values.reshape(PAIRS, RESOLUTION, RESOLUTION), directions


def largest_step(directions: np.ndarray) -> float:
    """max over the planes of |d0 + d1| and |d0 - d1| (the farthest grid corner from the centre)."""
    return float(max(np.linalg.norm(d[0] + s * d[1]) for d in directions for s in (1, -1)))


def relative_spread(grids: np.ndarray) -> float:
    """Median over planes of (max - min) / |centre| of the grid: how far the loss moves on the plane."""
    c = grids.shape[1] // 2
    return float(np.median([np.ptp(g) / abs(g[c, c]) for g in grids]))


CHECKS: dict[str, Callable[[Work], float]] = {
    "drm_final": lambda w: final_loss(w, "drm", "drm"),
    "drm_l2_error": lambda w: final_loss(w, "drm", "l2_error"),
    "pinn_final": lambda w: final_loss(w, "pinn", "pinn"),
    "pinn_l2_error": lambda w: final_loss(w, "pinn", "l2_error"),
    "pca_drm_first_two": lambda w: pca_first_two(w, "drm"),
    "pca_pinn_first_two": lambda w: pca_first_two(w, "pinn"),
    "pca_drm_pc1": lambda w: pca_first(w, "drm"),
    "pca_pinn_pc1": lambda w: pca_first(w, "pinn"),
    "gram_rank_drm": lambda w: basis_attr(w, "drm", "rank"),
    "gram_rank_pinn": lambda w: basis_attr(w, "pinn", "rank"),
    "trench_drm": lambda w: basis_attr(w, "drm", "null_relative_change"),
    "trench_pinn": lambda w: basis_attr(w, "pinn", "null_relative_change"),
    "var_drm_integrand": lambda w: variance(w, "drm"),
    "var_pinn_integrand": lambda w: variance(w, "pinn"),
    "var_residual": residual_variance,
    "var_ratio_integrand": lambda w: variance(w, "drm") / variance(w, "pinn"),
    "var_ratio_residual": lambda w: variance(w, "drm") / residual_variance(w),
    "spectrum_near_zero_drm": lambda w: spectrum_ends(w, "drm", "near_zero"),
    "spectrum_near_zero_pinn": lambda w: spectrum_ends(w, "pinn", "near_zero"),
    "spectrum_largest_initial_drm": lambda w: spectrum_ends(w, "drm", "largest_initial"),
    "spectrum_largest_final_drm": lambda w: spectrum_ends(w, "drm", "largest_final"),
    "spectrum_largest_initial_pinn": lambda w: spectrum_ends(w, "pinn", "largest_initial"),
    "spectrum_largest_final_pinn": lambda w: spectrum_ends(w, "pinn", "largest_final"),
    "spectrum_negative_final_drm": lambda w: spectrum_ends(w, "drm", "most_negative_final"),
    "spectrum_negative_final_pinn": lambda w: spectrum_ends(w, "pinn", "most_negative_final"),
    "bowls_filter_drm": lambda w: bowls(filter_planes(w, "drm")[0]),
    "bowls_filter_pinn": lambda w: bowls(filter_planes(w, "pinn")[0]),
    "bowls_unit_drm": lambda w: bowls(unit_planes(w, "drm")[0]),
    "bowls_unit_pinn": lambda w: bowls(unit_planes(w, "pinn")[0]),
    "step_filter_drm": lambda w: largest_step(filter_planes(w, "drm")[1]),
    "step_unit_drm": lambda w: largest_step(unit_planes(w, "drm")[1]),
    "spread_filter_drm": lambda w: relative_spread(filter_planes(w, "drm")[0]),
    "spread_unit_drm": lambda w: relative_spread(unit_planes(w, "drm")[0]),
    "spread_unit_pinn": lambda w: relative_spread(unit_planes(w, "pinn")[0]),
}



# Sections 1-3 (Rowan et al.), added by the re-runs of issue 16: the seed-0 MLI lines, the planes around
# theta_i and the drm integrand's variance at the drm solution (each a few seconds on the two runs).
def mli_monotonic_seed0(work: Work) -> float:
    """`probe mli run.zarr -t drm,pinn`: monotonic curves of the two seed-0 (init x1) trajectories."""
    from pinnviz.probes.mli import mli

    arrays, _ = work.probe("mli", lambda run: mli(run, ["drm", "pinn"]))
    return float(np.sum(arrays["monotonic"]))


def initial_planes(work: Work, loss: str) -> np.ndarray:
    """`probe random-planes run.zarr -t LOSS --at initial`: 9 filter-normalised 31 x 31 planes around theta_i."""
    from pinnviz.probes import random_planes

    arrays, _ = work.probe(f"random-planes-initial-{loss}", lambda run: random_planes(
        run, loss, at="initial", losses=[loss]))
    return arrays[f"loss/{loss}"]


def variance_at_drm(work: Work) -> float:
    """Variance of the drm integrand 1/2 u'^2 - f u at the drm solution (`random-planes -t drm --stochastic`)."""
    from pinnviz.probes import random_planes

    _, attrs = work.probe("random-planes-final-drm-mc100", lambda run: random_planes(
        run, "drm", at="final", losses=["drm", "pinn"], stochastic=100, pairs=1, resolution=2))
    return float(attrs["variance"]["drm"])



HYPER_DRM = "drm-adam-seed0"


def hyper_drm(work: Work):
    """The page's 3,000-step hyperelastic drm run (DIR/hyper-drm.zarr; about 35 s of CPU), trained on first use."""
    from pinnviz.store import open_run

    store = work.root / "hyper-drm.zarr"
    done = store.exists() and HYPER_DRM in open_run(store).trajectory_names() and \
        open_run(store).trajectory_attrs(HYPER_DRM).get("status") == "complete"
    if not done:
        work.pinnviz("train", "hyperelastic2d", "--loss", "drm", "--steps", "3000", "--lr", "1e-3", "--seed", "0",
                     "--out", str(store))
    return open_run(store, mode="r+", overwrite=True)


def hyper_basis(work: Work, key: str) -> float:
    """`probe basis hyper-drm.zarr --tolerance 1e-6 --no-landscape`: Gram rank or the trench's relative change."""
    from pinnviz.probes.basis import basis

    name = f"basis-{HYPER_DRM}"
    if name not in work.done:
        basis(hyper_drm(work), HYPER_DRM, tolerance=1e-6, landscape=False)
        work.done.add(name)
    from pinnviz.probes import load_probe

    return float(load_probe(hyper_drm(work), name)[1][key])

CHECKS |= {
    "mli_monotonic_seed0": mli_monotonic_seed0,
    "bowls_initial_drm": lambda w: bowls(initial_planes(w, "drm")),
    "bowls_initial_pinn": lambda w: bowls(initial_planes(w, "pinn")),
    "spread_initial_drm": lambda w: relative_spread(initial_planes(w, "drm")),
    "var_drm_at_drm": variance_at_drm,
    "hyper_drm_max_error": lambda w: float(hyper_drm(w).trajectory(HYPER_DRM).losses["max_error"][-1]),
    "hyper_drm_gram_rank": lambda w: hyper_basis(w, "rank"),
    "hyper_drm_trench": lambda w: hyper_basis(w, "null_relative_change"),
}


def convection_balance_final(work: Work, column: str) -> float:
    """Section 4.2's EW run (beta = 10, 500 Adam steps, seed 0), trained by the page's command: its final `column`."""
    from pinnviz.store import open_run

    store = work.root / "balance_beta10.zarr"
    if not store.exists():
        work.pinnviz("train", "convection1d", "--set", "beta=10", "--steps", "500", "--lr", "1e-3", "--log-every", "5",
                     "--seed", "0", "--balance", "ew", "--name", "ew", "-o", str(store))
    return float(open_run(store).trajectory("ew").losses[column][-1])


def hessian_norm_at_init(work: Work, problem: str, setting: str, width: int) -> float:
    """Section 6's figure 1b at one width: the residual Hessian's spectral norm at seed 0's initialisation
    (`train ... --steps 0`, then the library call behind `probe spectrum --loss residual --lanczos`)."""
    from pinnviz.probes import spectrum
    from pinnviz.store import open_run

    store = work.root / f"h1b_{problem}_w{width}.zarr"
    if not store.exists():
        work.pinnviz("train", problem, "--set", setting, "--width", str(width), "--depth", "1", "--steps", "0",
                     "--name", f"w{width}", "-o", str(store))
    return float(spectrum(open_run(store), f"w{width}", loss="residual", lanczos=True, save=False)["spectral_norm"][0])


CHECKS.update({
    "balance_ew_total": lambda w: convection_balance_final(w, "total"),
    "balance_ew_test": lambda w: convection_balance_final(w, "test"),
    "balance_ew_bc": lambda w: convection_balance_final(w, "bc"),
    "hessian_norm_convection_w50": lambda w: hessian_norm_at_init(w, "convection1d", "beta=40", 50),
    "hessian_norm_reaction_w50": lambda w: hessian_norm_at_init(w, "reaction1d", "rho=5", 50),
})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="Where the stores live (default: a new temporary folder).")
    parser.add_argument("--page", type=Path, default=ROOT / "docs" / "reproduction.md")
    parser.add_argument("--only", help="Comma-separated keys to check (default: all).")
    parser.add_argument("--measure", action="store_true", help="Only print the measured numbers (to update the page).")
    args = parser.parse_args(argv)
    table = {key: ("nan", "exact") for key in CHECKS} if args.measure else read_table(args.page)
    if set(table) != set(CHECKS):
        print(f"page-only keys: {sorted(set(table) - set(CHECKS))}; script-only keys: "
              f"{sorted(set(CHECKS) - set(table))}", file=sys.stderr)
        return 2
    keys = args.only.split(",") if args.only else list(table)
    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(1)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="pinnviz-repro-"))
    workdir.mkdir(parents=True, exist_ok=True)
    work = Work(workdir)
    failed = []
    for key in keys:
        text, tolerance = table[key]
        measured = CHECKS[key](work)
        if args.measure:
            print(f"{key:22s} {measured:.4g}", flush=True)
            continue
        ok = within(measured, number(text), tolerance)
        failed += [] if ok else [key]
        shown = f"{measured:.4g}" if math.isfinite(measured) else str(measured)
        print(f"{'ok  ' if ok else 'DRIFT'} {key:22s} page {text:>12s} ({tolerance}), measured {shown}", flush=True)
    if args.measure:
        return 0
    print(f"{len(keys) - len(failed)} of {len(keys)} numbers agree with the page (stores in {workdir})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
