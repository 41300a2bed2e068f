"""Run many user mistakes through every pinnviz command and count how many are handled as promised.

Promise (docs/architecture.md, "Errors"): one line on stderr, exit code 2, and every file of the work
folder (the stores, the output folders) byte for byte as before. Run it as a script:

    python tests/mistakes.py            # builds small stores in a temporary folder, prints one row per mistake

or in-process from `tests/test_mistakes.py`. Read-only cases run with the effective user `nobody` when
the process is root (root ignores permission bits), else with the write bits removed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import zarr
from typer.testing import CliRunner

from pinnviz.cli import app

runner = CliRunner()
NOBODY = 65534


@dataclass
class Mistake:
    label: str
    argv: list[str]
    read_only: str | None = None  # a path (relative to the work folder) made unwritable for this mistake


@dataclass
class Outcome:
    mistake: Mistake
    exit_code: int
    stderr_lines: list[str]
    unchanged: bool

    @property
    def ok(self) -> bool:
        return self.exit_code == 2 and len(self.stderr_lines) == 1 and self.unchanged


def invoke(argv: list[str]):
    return runner.invoke(app, ["--threads", "1", *argv])


def must(argv: list[str]) -> None:
    result = invoke(argv)
    if result.exit_code != 0:
        raise RuntimeError(f"setup command {argv} failed: {result.output}")


def folder_hash(folder: Path) -> str:
    """sha256 over every file's relative path and bytes (and every folder's name) under `folder`."""
    digest = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(folder)):
        dirs.sort()
        digest.update(os.path.relpath(root, folder).encode())
        for name in sorted(files):
            path = Path(root) / name
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@contextmanager
def read_only(path: Path):
    """`path` unwritable for the duration: the effective user becomes `nobody` under root, else the write
    bits of every file and folder below `path` are removed (and restored)."""
    if os.geteuid() == 0:
        os.seteuid(NOBODY)
        try:
            yield
        finally:
            os.seteuid(0)
        return
    modes = {}
    for root, _dirs, files in os.walk(path):
        for p in [Path(root), *(Path(root) / f for f in files)]:
            modes[p] = p.stat().st_mode
            p.chmod(modes[p] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def build_work_folder(folder: Path) -> Path:
    """The stores the mistakes are made on (small: seconds to build).

    s.zarr: poisson1d, two 30-step pinn seeds, manifold and landscape `pca` (8 x 8); one.zarr: one trajectory;
    damaged.zarr: s.zarr with a truncated params and loss chunk; nanland.zarr: s.zarr with an all-NaN landscape;
    stale.zarr: s.zarr whose pca was refitted after its landscape; grown.zarr: s.zarr whose pca records an
    11-row seed0 (as if that trajectory was resumed after the fit); nantraj.zarr: a trajectory that diverged
    to NaN; afile.txt: a plain file; ro/: an empty folder (made unwritable where a mistake says so).
    """
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # readable by `nobody` for the read-only cases
    s = folder / "s.zarr"
    must(["train", "--steps", "30", "--seeds", "2", "--out", str(s)])
    must(["fit-manifold", str(s), "--method", "pca"])
    must(["landscape", str(s), "--manifold", "pca", "--resolution", "8"])
    must(["train", "--steps", "10", "--out", str(folder / "one.zarr")])
    for copy in ("damaged", "nanland", "stale", "nantraj", "grown"):
        shutil.copytree(s, folder / f"{copy}.zarr")
    for chunk in (folder / "damaged.zarr/trajectories/pinn-adam-seed0/params/c/0/0",
                  folder / "damaged.zarr/trajectories/pinn-adam-seed0/loss/pinn/c/0"):  # read before params
        chunk.write_bytes(chunk.read_bytes()[:40])
    group = zarr.open_group(str(folder / "nanland.zarr/landscapes/pca"), mode="r+")
    for _name, array in group["loss"].arrays():
        array[...] = np.nan
    must(["fit-manifold", str(folder / "stale.zarr"), "--method", "pca", "--every", "2", "--force"])
    _nan_trajectory(folder / "nantraj.zarr")
    manifold = zarr.open_group(str(folder / "grown.zarr/manifolds/pca"), mode="r+")
    recorded = dict(manifold.attrs["trajectory_fingerprints"])  # as if the trajectory was resumed after the fit
    recorded["pinn-adam-seed0"] = recorded["pinn-adam-seed0"].rsplit(":", 1)[0] + ":11"
    manifold.attrs["trajectory_fingerprints"] = recorded
    (folder / "afile.txt").write_text("not a store\n")
    (folder / "ro").mkdir()
    (folder / "ro").chmod(0o755)
    return folder


def _nan_trajectory(path: Path) -> None:
    """Add `diverged`: a copy of pinn-adam-seed0 whose last row is NaN, as a diverged run leaves it."""
    from pinnviz.store import TrajectoryWriter, open_run

    run = open_run(path, mode="r+")
    source = run.trajectory("pinn-adam-seed0")
    writer = TrajectoryWriter.create(run.group["trajectories"], "diverged", source.params.shape[1],
                                     list(source.losses), {**source.attrs, "batch": "nan"})
    for k in range(len(source.steps)):
        row = source.params[k] if k < len(source.steps) - 1 else np.full(source.params.shape[1], np.nan)
        losses = {n: (float(v[k]) if k < len(source.steps) - 1 else float("nan")) for n, v in source.losses.items()}
        writer.append(int(source.steps[k]), row, losses)
    writer.close("failed", failure="pinn became non-finite")


def mistakes(folder: Path) -> list[Mistake]:
    """At least 60 distinct mistakes across every command."""
    s, one, d = str(folder / "s.zarr"), str(folder / "one.zarr"), str(folder / "damaged.zarr")
    fresh = str(folder / "fresh.zarr")
    out = str(folder / "out")
    train = ["train", "--steps", "2"]
    m = [
        # train: names
        Mistake("train name with /", [*train, "--name", "a/b", "--out", s]),
        Mistake("train name ../../evil", [*train, "--name", "../../evil", "--out", s]),
        Mistake("train name with a comma", [*train, "--name", "a,b", "--out", s]),
        Mistake("train empty name", [*train, "--name", "", "--out", s]),
        Mistake("train name with a space", [*train, "--name", "my run", "--out", s]),
        Mistake("train name with a leading dot", [*train, "--name", ".hidden", "--out", s]),
        Mistake("train name with a tab", [*train, "--name", "a\tb", "--out", s]),
        Mistake("train name with a backslash", [*train, "--name", "a\\b", "--out", s]),
        Mistake("train prefix with / (--seeds 2)", [*train, "--seeds", "2", "--name", "x/y", "--out", s]),
        Mistake("train existing trajectory name", [*train, "--name", "pinn-adam-seed0", "--out", s]),
        # train: options
        Mistake("train cw weights of wrong length (fresh path)",
                ["train", "convection1d", "--balance", "cw", "--weights", "1,2", "--steps", "2", "--out", fresh]),
        Mistake("train balance on a problem without components", [*train, "--balance", "cw", "--out", s]),
        Mistake("train --weights without --balance cw", [*train, "--weights", "1,2", "--out", s]),
        Mistake("train --weights not numbers", ["train", "convection1d", "--balance", "cw", "--weights", "a,b",
                                                "--steps", "2", "--out", fresh]),
        Mistake("train --seeds 100000", [*train, "--seeds", "100000", "--out", s]),
        Mistake("train --seeds 0", [*train, "--seeds", "0", "--out", s]),
        Mistake("train --steps -1", ["train", "--steps", "-1", "--out", s]),
        Mistake("train --lr 0", [*train, "--lr", "0", "--out", s]),
        Mistake("train --lr nan", [*train, "--lr", "nan", "--out", s]),
        Mistake("train --init-scale -1", [*train, "--init-scale", "-1", "--out", s]),
        Mistake("train --log-every 0", [*train, "--log-every", "0", "--out", s]),
        Mistake("train --optimizer foo", [*train, "--optimizer", "foo", "--out", s]),
        Mistake("train --loss foo", [*train, "--loss", "foo", "--out", s]),
        Mistake("train --dtype float16", [*train, "--dtype", "float16", "--out", s]),
        Mistake("train --activation relu", [*train, "--activation", "relu", "--out", fresh]),
        Mistake("train --width 0", [*train, "--width", "0", "--out", fresh]),
        Mistake("train --set bogus=1", [*train, "--set", "bogus=1", "--out", fresh]),
        Mistake("train --set without =", [*train, "--set", "bogus", "--out", fresh]),
        Mistake("train unknown problem", ["train", "heat1d", "--steps", "2", "--out", fresh]),
        Mistake("train --quadrature simpson", [*train, "--quadrature", "simpson", "--out", fresh]),
        Mistake("train --points 0", [*train, "--points", "0", "--out", fresh]),
        Mistake("train --device tpu", [*train, "--device", "tpu", "--out", fresh]),
        Mistake("train --solution 1/x", [*train, "--solution", "1/x", "--out", fresh]),
        Mistake("train --solution sqrt(x-2)", [*train, "--solution", "sqrt(x-2)", "--out", fresh]),
        Mistake("train --solution sin(pi*x)/x", [*train, "--solution", "sin(pi*x)/x", "--out", fresh]),
        Mistake("train --solution exp(x)", [*train, "--solution", "exp(x)", "--out", fresh]),
        Mistake("train --solution with a Python name", [*train, "--solution", "__import__('os')", "--out", fresh]),
        Mistake("train --out through a file", [*train, "--out", str(folder / "afile.txt/sub.zarr")]),
        Mistake("train --out a plain file", [*train, "--out", str(folder / "afile.txt")]),
        Mistake("train into a read-only folder", [*train, "--out", str(folder / "ro/run.zarr")], read_only="ro"),
        Mistake("train into a read-only store", [*train, "--out", s], read_only="s.zarr"),
        Mistake("train --out a store of another model", [*train, "--width", "8", "--out", s]),
        Mistake("train --resume without a store", ["train", "--resume", "--out", fresh]),
        Mistake("train --resume with nothing to resume", ["train", "--resume", "--out", s]),
        Mistake("global --threads 0", ["--threads", "0", "info", s]),
        # info
        Mistake("info of a missing store", ["info", fresh]),
        Mistake("info of a plain file", ["info", str(folder / "afile.txt")]),
        Mistake("info of a folder that is not a store", ["info", str(folder / "ro")]),
        Mistake("probe acceleration on a truncated loss chunk", ["probe", "acceleration", d, "-t", "pinn-adam-seed0"]),
        # fit-manifold
        Mistake("fit-manifold unknown method", ["fit-manifold", s, "--method", "tsne"]),
        Mistake("fit-manifold name with /", ["fit-manifold", s, "--name", "a/b"]),
        Mistake("fit-manifold name ..", ["fit-manifold", s, "--name", ".."]),
        Mistake("fit-manifold existing name without --force", ["fit-manifold", s, "--method", "pca"]),
        Mistake("fit-manifold unknown trajectory", ["fit-manifold", s, "--trajectories", "nope", "--name", "x"]),
        Mistake("fit-manifold a trajectory twice", ["fit-manifold", s, "--name", "x", "--trajectories",
                                                    "pinn-adam-seed0,pinn-adam-seed0"]),
        Mistake("fit-manifold --every 0", ["fit-manifold", s, "--every", "0", "--name", "x"]),
        Mistake("fit-manifold autoencoder option on pca", ["fit-manifold", s, "--anchor", "polar", "--name", "x"]),
        Mistake("fit-manifold --hidden not integers", ["fit-manifold", s, "--method", "autoencoder",
                                                       "--hidden", "a,b", "--name", "x"]),
        Mistake("fit-manifold --device cuda for umap", ["fit-manifold", s, "--method", "umap", "--device", "cuda",
                                                        "--name", "x"]),
        Mistake("fit-manifold on a read-only store", ["fit-manifold", s, "--name", "x"], read_only="s.zarr"),
        Mistake("fit-manifold on a truncated chunk", ["fit-manifold", d, "--name", "x"]),
        Mistake("fit-manifold hessian-plane on two trajectories", ["fit-manifold", s, "--method", "hessian-plane",
                                                                   "--trajectories",
                                                                   "pinn-adam-seed0,pinn-adam-seed1"]),
        Mistake("fit-manifold trench --span -1", ["fit-manifold", s, "--method", "trench", "--span", "-1"]),
        Mistake("fit-manifold --loss for pca", ["fit-manifold", s, "--loss", "pinn", "--name", "x"]),
        Mistake("fit-manifold a diverged trajectory", ["fit-manifold", str(folder / "nantraj.zarr"), "--name", "x"]),
        # landscape
        Mistake("landscape unknown manifold", ["landscape", s, "--manifold", "nope"]),
        Mistake("landscape --chunk 0", ["landscape", s, "-m", "pca", "--name", "y", "--chunk", "0"]),
        Mistake("landscape --chunk -5", ["landscape", s, "-m", "pca", "--name", "y", "--chunk", "-5"]),
        Mistake("landscape --loss pinn,pinn", ["landscape", s, "-m", "pca", "--name", "y", "--loss", "pinn,pinn"]),
        Mistake("landscape --loss foo", ["landscape", s, "-m", "pca", "--name", "y", "--loss", "foo"]),
        Mistake("landscape --margin nan", ["landscape", s, "-m", "pca", "--name", "y", "--margin", "nan"]),
        Mistake("landscape --margin inf", ["landscape", s, "-m", "pca", "--name", "y", "--margin", "inf"]),
        Mistake("landscape --margin -0.6", ["landscape", s, "-m", "pca", "--name", "y", "--margin", "-0.6"]),
        Mistake("landscape --resolution 100000", ["landscape", s, "-m", "pca", "--name", "y", "--resolution",
                                                  "100000"]),
        Mistake("landscape --resolution 1", ["landscape", s, "-m", "pca", "--name", "y", "--resolution", "1"]),
        Mistake("landscape name with /", ["landscape", s, "-m", "pca", "--name", "a/b"]),
        Mistake("landscape existing name without --force", ["landscape", s, "-m", "pca"]),
        Mistake("landscape --dtype float16", ["landscape", s, "-m", "pca", "--name", "y", "--dtype", "float16"]),
        Mistake("landscape on a read-only store", ["landscape", s, "-m", "pca", "--name", "y"], read_only="s.zarr"),
        Mistake("landscape of a manifold whose trajectory changed", ["landscape", str(folder / "grown.zarr"),
                                                                     "-m", "pca", "--name", "y"]),
        # landscape --dims (d-dimensional direction landscapes) and probe topology
        Mistake("landscape --dims 5", ["landscape", s, "--dims", "5", "-t", "pinn-adam-seed0"]),
        Mistake("landscape --dims 0", ["landscape", s, "--dims", "0", "-t", "pinn-adam-seed0"]),
        Mistake("landscape --directions foo", ["landscape", s, "--dims", "3", "--directions", "foo", "-t",
                                               "pinn-adam-seed0"]),
        Mistake("landscape --dims with --manifold", ["landscape", s, "--dims", "3", "-m", "pca", "-t",
                                                     "pinn-adam-seed0"]),
        Mistake("landscape --dims with --margin", ["landscape", s, "--dims", "3", "--margin", "0.2", "-t",
                                                   "pinn-adam-seed0"]),
        Mistake("landscape --dims --at a step not stored", ["landscape", s, "--dims", "3", "-t", "pinn-adam-seed0",
                                                            "--at", "999"]),
        Mistake("landscape --dims without --trajectory", ["landscape", s, "--dims", "3"]),
        Mistake("landscape --dims unknown trajectory", ["landscape", s, "--dims", "3", "-t", "nope"]),
        Mistake("landscape --directions without --dims", ["landscape", s, "-m", "pca", "--name", "y",
                                                          "--directions", "random"]),
        Mistake("landscape --dims --span -1", ["landscape", s, "--dims", "2", "-t", "pinn-adam-seed0", "--span",
                                               "-1"]),
        Mistake("landscape --dims 4 --resolution 100", ["landscape", s, "--dims", "4", "-t", "pinn-adam-seed0",
                                                        "--resolution", "100"]),
        Mistake("landscape --dims --method power", ["landscape", s, "--dims", "2", "-t", "pinn-adam-seed0",
                                                    "--method", "power"]),
        Mistake("landscape --dims --name of a 2-D landscape", ["landscape", s, "--dims", "2", "-t",
                                                               "pinn-adam-seed0", "--name", "pca"]),
        Mistake("landscape --dims --device tpu", ["landscape", s, "--dims", "2", "-t", "pinn-adam-seed0",
                                                  "--device", "tpu"]),
        Mistake("landscape --dims on a read-only store", ["landscape", s, "--dims", "2", "-t", "pinn-adam-seed0"],
                read_only="s.zarr"),
        Mistake("probe topology of a stale landscape", ["probe", "topology", str(folder / "stale.zarr"),
                                                        "--landscape", "pca"]),
        Mistake("probe topology unknown landscape", ["probe", "topology", s, "--landscape", "nope"]),
        # render
        Mistake("render unknown landscape", ["render", s, "-l", "nope", "-o", f"{out}/a.png"]),
        Mistake("render to .jpg", ["render", s, "-l", "pca", "-o", f"{out}/a.jpg"]),
        Mistake("render into a read-only folder", ["render", s, "-l", "pca", "-o", str(folder / "ro/a.png")],
                read_only="ro"),
        Mistake("render to a folder", ["render", s, "-l", "pca", "-o", str(folder / "ro")]),
        Mistake("render through a file", ["render", s, "-l", "pca", "-o", str(folder / "afile.txt/a.png")]),
        Mistake("render an all-NaN landscape", ["render", str(folder / "nanland.zarr"), "-l", "pca", "-o",
                                                f"{out}/a.png"]),
        Mistake("render a stale landscape", ["render", str(folder / "stale.zarr"), "-l", "pca", "-o",
                                             f"{out}/a.png"]),
        Mistake("render --dpi 0", ["render", s, "-l", "pca", "-o", f"{out}/a.png", "--dpi", "0"]),
        Mistake("render --loss foo", ["render", s, "-l", "pca", "-o", f"{out}/a.png", "--loss", "foo"]),
        # compare
        Mistake("compare --format jpg", ["compare", s, "--methods", "pca", "--format", "jpg", "-o", out]),
        Mistake("compare unknown method", ["compare", s, "--methods", "tsne", "-o", out]),
        Mistake("compare a method twice", ["compare", s, "--methods", "pca,pca", "-o", out]),
        Mistake("compare -o an existing file", ["compare", s, "--methods", "pca", "-o", str(folder / "afile.txt")]),
        Mistake("compare -o inside the store", ["compare", s, "--methods", "pca", "-o", f"{s}/figures"]),
        Mistake("compare another resolution without --force", ["compare", s, "--methods", "pca", "--resolution",
                                                               "12", "-o", out]),
        Mistake("compare unknown trajectory", ["compare", s, "--methods", "pca", "--trajectories", "nope",
                                               "-o", out]),
        Mistake("compare on other trajectories without --force", ["compare", s, "--methods", "pca",
                                                                  "--trajectories", "pinn-adam-seed0", "-o", out]),
        Mistake("compare --every 0", ["compare", s, "--methods", "pca", "--every", "0", "--refit", "-o", out]),
        Mistake("compare --tag with /", ["compare", s, "--methods", "pca", "--tag", "a/b", "-o", out]),
        Mistake("compare hessian-plane not stored", ["compare", s, "--methods", "hessian-plane", "-o", out]),
        Mistake("compare on a read-only store", ["compare", s, "--methods", "pca", "-o", out], read_only="s.zarr"),
        Mistake("compare --ae-seconds 0", ["compare", s, "--methods", "pca", "--ae-seconds", "0", "-o", out]),
        Mistake("compare --loss foo", ["compare", s, "--methods", "pca", "--loss", "foo", "-o", out]),
        Mistake("compare --resolution 100000", ["compare", s, "--methods", "pca", "--resolution", "100000",
                                                "--force", "-o", out]),
        # probes
        Mistake("probe mli on a diverged trajectory", ["probe", "mli", str(folder / "nantraj.zarr"),
                                                       "-t", "diverged"]),
        Mistake("probe mode-connectivity on one trajectory", ["probe", "mode-connectivity", one]),
        Mistake("probe mode-connectivity odd count", ["probe", "mode-connectivity", s, "-t", "pinn-adam-seed0"]),
        Mistake("probe hessian-walk unknown trajectory", ["probe", "hessian-walk", s, "-t", "nope"]),
        Mistake("probe mli figure .jpg", ["probe", "mli", s, "-o", f"{out}/m.jpg"]),
        Mistake("probe mli --points 1", ["probe", "mli", s, "--points", "1"]),
        Mistake("probe hessian-plane name with /", ["probe", "hessian-plane", s, "--name", "a/b"]),
        Mistake("probe hessian-plane over an existing manifold", ["probe", "hessian-plane", s, "--name", "pca"]),
        Mistake("probe basis --step 999", ["probe", "basis", s, "--step", "999"]),
        Mistake("probe random-planes --resolution 1", ["probe", "random-planes", s, "--resolution", "1"]),
        Mistake("probe goldilocks --radii x", ["probe", "goldilocks", s, "--radii", "x"]),
        Mistake("probe ntk of a missing store", ["probe", "ntk", fresh]),
        Mistake("probe spectrum --every 0", ["probe", "spectrum", s, "--every", "0"]),
        Mistake("probe mli on a read-only store", ["probe", "mli", s], read_only="s.zarr"),
        Mistake("probe acceleration unknown trajectory", ["probe", "acceleration", s, "-t", "nope"]),
        # --device: an unknown name anywhere; CUDA where a probe computes nothing a GPU would speed up
        Mistake("probe mli --device tpu", ["probe", "mli", s, "--device", "tpu"]),
        Mistake("probe goldilocks --device cuda:-1", ["probe", "goldilocks", s, "--device", "cuda:-1"]),
        Mistake("probe acceleration --device cuda", ["probe", "acceleration", s, "--device", "cuda"]),
        Mistake("probe topology --device cuda", ["probe", "topology", s, "--landscape", "pca", "--device", "cuda"]),
        # Dask options (one plumbing for sweep, landscape, compare and the probes that run on workers)
        Mistake("sweep --workers -1", ["sweep", "poisson1d", "--grid", "seed=0..1", "--steps", "2", "--out",
                                       str(folder / "sweep"), "--workers", "-1"]),
        Mistake("sweep --grid without values", ["sweep", "poisson1d", "--grid", "seed=", "--out",
                                                str(folder / "sweep"), "--workers", "0"]),
        Mistake("landscape --workers and --scheduler", ["landscape", s, "-m", "pca", "--name", "y", "--workers", "2",
                                                        "--scheduler", "tcp://127.0.0.1:9"]),
        Mistake("probe bad-minima --workers -1", ["probe", "bad-minima", s, "--steps", "2", "--workers", "-1"]),
        Mistake("probe mli --workers -1", ["probe", "mli", s, "--workers", "-1"]),
        Mistake("probe mli --workers and --scheduler", ["probe", "mli", s, "--workers", "2", "--scheduler",
                                                        "tcp://127.0.0.1:9"]),
        Mistake("probe mli at an unreachable scheduler", ["probe", "mli", s, "--scheduler", "tcp://127.0.0.1:9"]),
        Mistake("probe mli --points 1 with --workers 2", ["probe", "mli", s, "--points", "1", "--workers", "2"]),
        Mistake("probe mli --scales 1,-1 with --workers 2", ["probe", "mli", s, "--scales", "1,-1", "--steps", "2",
                                                             "--workers", "2"]),
        Mistake("probe random-planes --workers -1", ["probe", "random-planes", s, "--workers", "-1"]),
        Mistake("probe random-planes no --scheduler-file", ["probe", "random-planes", s, "--scheduler-file",
                                                            str(folder / "scheduler.json")]),
        Mistake("probe random-planes --resolution 1 with --workers 2", ["probe", "random-planes", s, "--resolution",
                                                                        "1", "--workers", "2"]),
        # demo
        Mistake("demo -o inside a store", ["demo", "--quick", "-o", f"{s}/demo"]),
        Mistake("demo -o a file", ["demo", "--quick", "-o", str(folder / "afile.txt")]),
    ]
    if not torch.cuda.is_available():  # a mistake only where this machine has no GPU
        commands = {"train": [*train, "--out", fresh], "fit-manifold": ["fit-manifold", s, "--name", "x"],
                    "landscape --dims": ["landscape", s, "--dims", "2", "-t", "pinn-adam-seed0"],
                    "compare": ["compare", s, "--methods", "pca", "-o", out],
                    **{f"probe {probe}": ["probe", probe, s] for probe in (
                        "mli", "hessian-walk", "random-planes", "spectrum", "basis", "goldilocks", "hessian-landscape",
                        "ntk")}}
        m += [Mistake(f"{label} --device cuda without CUDA", [*argv, "--device", "cuda"])
              for label, argv in commands.items()]
    return m


def stat_signature(folder: Path) -> list[tuple]:
    """(path, size, mtime_ns, mode) of every file and folder under `folder`: any write changes it."""
    entries = []
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            st = (Path(root) / name).lstat()
            entries.append((os.path.relpath(Path(root) / name, folder), st.st_size, st.st_mtime_ns, st.st_mode))
    return sorted(entries)


def _touched(folder: Path, argv: list[str]) -> list[Path]:
    """The top-level entries of the work folder that a command names (its stores and output paths)."""
    prefix = str(folder) + os.sep
    tops = {Path(a[len(prefix):]).parts[0] for a in argv if a.startswith(prefix)}
    return sorted(folder / t for t in tops if (folder / t).exists())


def _bytes_hash(paths: list[Path]) -> str:
    return "".join(folder_hash(p) if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest() for p in paths)


def run_mistake(folder: Path, mistake: Mistake) -> Outcome:
    """Run one mistake; `unchanged` compares the bytes of every store and file it names, and the size,
    modification time and mode of everything in the work folder."""
    touched = _touched(folder, mistake.argv)
    before = (stat_signature(folder), _bytes_hash(touched))
    if mistake.read_only:
        with read_only(folder / mistake.read_only):
            result = invoke(mistake.argv)
    else:
        result = invoke(mistake.argv)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    after = (stat_signature(folder), _bytes_hash(touched))
    return Outcome(mistake, result.exit_code, lines, after == before)


def run_all(folder: Path, selection: list[Mistake] | None = None, echo=print) -> list[Outcome]:
    """Run the mistakes one by one, printing a line each (and, at the end, the bytes of the whole folder must
    be those of the start: `folder_hash`)."""
    start = folder_hash(folder)
    outcomes = []
    for mistake in selection if selection is not None else mistakes(folder):
        outcome = run_mistake(folder, mistake)
        outcomes.append(outcome)
        flag = "ok  " if outcome.ok else "FAIL"
        first = outcome.stderr_lines[0] if outcome.stderr_lines else "(no stderr)"
        echo(f"{flag} exit {outcome.exit_code} lines {len(outcome.stderr_lines)} "
             f"{'unchanged' if outcome.unchanged else 'CHANGED'}  {mistake.label}: {first[:150]}")
    if folder_hash(folder) != start:
        raise AssertionError(f"the bytes of {folder} changed during the mistakes")
    return outcomes


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="pinnviz-mistakes-"))
    try:
        build_work_folder(folder)
        outcomes = run_all(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    good = sum(o.ok for o in outcomes)
    print(f"{good} of {len(outcomes)} mistakes gave exactly one stderr line and exit code 2 with every store "
          "unchanged")
    return 0 if good == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
