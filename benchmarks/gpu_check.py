"""The GPU path in one go (a few minutes): every command that takes --device, run with it, on small stores.

    python benchmarks/gpu_check.py [--device cuda] [--width 256] [--steps 200] [--resolution 50]
                                   [--threads 4] [--no-tests] [--keep DIR]

Where torch sees no CUDA device it says so and exits 0 (nothing to check). Otherwise every step is the
real CLI in its own process (`python -m pinnviz --threads N ...`):

  train (a width-W, depth-3 poisson1d net) and a 50 x 50 PCA landscape of it, each on the CPU and on the
  device, with the wall-time ratio; fit-manifold pca and autoencoder on the device; every probe with
  --device on a small 1-20-20-1 store (acceleration and topology must refuse it: CPU only); then the
  tests that need CUDA (tests/test_cuda_probes.py, the CUDA tests of tests/test_scale*.py) unless --no-tests.

One line per step: name, ok/FAIL, wall seconds (process start included), a note. Exit code 1 when a
step failed. `--device cpu` runs the same steps on the CPU (a dry run of this script, no GPU numbers).
Timings are one run: read the ratios, not the seconds. About 30 CLI processes, each paying torch's start-up
(~15-25 s apiece on the loaded 2-core dev machine in a `--device cpu --width 16 --steps 30` dry run, where
every step passed; a few seconds on a 16-core GPU machine), then one pytest process.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Checker:
    """Runs CLI steps, prints one line each, remembers failures."""

    def __init__(self, threads: int, log: Path) -> None:
        self.threads, self.log, self.failed = threads, log, []

    def cli(self, label: str, args: list[str], *, expect: int = 0, note=None) -> tuple[float, str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "pinnviz", "--threads", str(self.threads), *args]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        seconds = time.perf_counter() - start
        with open(self.log, "a") as log:
            log.write(f"$ {' '.join(cmd)}\n{done.stdout}{done.stderr}\n")
        ok = done.returncode == expect
        text = note(done.stdout, done.stderr) if ok and note else (done.stderr.strip().splitlines() or [""])[-1]
        self.line(label, ok, seconds, text if ok or expect else f"exit {done.returncode}: {text}")
        return seconds, done.stdout

    def line(self, label: str, ok: bool, seconds: float, note: str = "") -> None:
        if not ok:
            self.failed.append(label)
        print(f"{label:<46} {'ok  ' if ok else 'FAIL'} {seconds:8.2f} s  {note[:110]}", flush=True)


def losses_seconds(stdout: str) -> float | None:
    """The `losses in X s` a landscape prints (its evaluation alone, without start-up and decoding)."""
    found = re.search(r"losses in ([0-9.]+) s", stdout)
    return float(found.group(1)) if found else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu for a dry run of this script")
    parser.add_argument("--width", type=int, default=256, help="hidden width of the timed net (depth 3)")
    parser.add_argument("--steps", type=int, default=200, help="training steps of the timed net")
    parser.add_argument("--resolution", type=int, default=50, help="landscape grid points per axis")
    parser.add_argument("--threads", type=int, default=4, help="torch CPU threads of every step")
    parser.add_argument("--no-tests", action="store_true", help="skip the pytest run of the CUDA tests")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"no CUDA device on this machine (torch {torch.__version__}, built for CUDA {torch.version.cuda}): "
              "nothing to check; run this on a machine with a GPU (or --device cpu for a dry run)")
        return 0
    name = torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda") else "CPU"
    print(f"device {args.device}: {name}; torch {torch.__version__}; {os.cpu_count()} CPU cores, "
          f"--threads {args.threads}", flush=True)
    work = args.keep or Path(tempfile.mkdtemp(prefix="pinnviz-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    check = Checker(args.threads, work / "log.txt")
    dev = ["--device", args.device]
    try:
        timed(check, work, args, dev)
        probes(check, work, dev)
        if not args.no_tests:
            tests(check, args.device)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{len(check.failed)} step(s) failed: {', '.join(check.failed)}" if check.failed else "every step passed")
    return 1 if check.failed else 0


def timed(check: Checker, work: Path, args, dev: list[str]) -> None:
    """train and landscape on the CPU and on the device (ratios), the fits on the device."""
    net = ["poisson1d", "--width", str(args.width), "--depth", "3", "--steps", str(args.steps),
           "--log-every", str(max(1, args.steps // 30))]
    sides = {"cpu": "cpu", "device": args.device}  # the same device twice in a dry run
    seconds = {}
    for side, device in sides.items():
        seconds[side], _ = check.cli(f"train width {args.width} on {device}",
                                     ["train", *net, "--device", device, "--out", str(work / f"big-{side}.zarr")])
    check.line(f"train: cpu / {args.device} wall time", True, 0.0,
               f"{seconds['cpu'] / max(seconds['device'], 1e-9):.2f}x")
    big = work / "big-device.zarr"
    check.cli("fit-manifold pca", ["fit-manifold", str(big), "--method", "pca", *dev])
    check.cli("fit-manifold autoencoder (subspace 8)", ["fit-manifold", str(big), "--method", "autoencoder",
                                                         "--subspace", "8", "--epochs", "200", "--name", "ae", *dev])
    evaluate = {}
    for side, device in sides.items():
        _, stdout = check.cli(f"landscape {args.resolution}x{args.resolution} on {device}",
                              ["landscape", str(big), "-m", "pca", "--resolution", str(args.resolution),
                               "--name", f"pca-{side}", "--device", device],
                              note=lambda out, _err: f"losses in {losses_seconds(out)} s")
        evaluate[side] = losses_seconds(stdout)
    if evaluate["cpu"] and evaluate["device"]:
        check.line(f"landscape losses: cpu / {args.device}", True, 0.0,
                   f"{evaluate['cpu'] / max(evaluate['device'], 1e-9):.2f}x")
    check.cli("landscape of the autoencoder", ["landscape", str(big), "-m", "ae", "--resolution", "20", *dev])
    check.cli("landscape --dims 2 (hessian, lanczos)", ["landscape", str(big), "--dims", "2", "-t",
                                                        "pinn-adam-seed0", "--method", "lanczos", "--resolution",
                                                        "11", *dev])
    out = work / "compare"
    check.cli("compare pca,random", ["compare", str(big), "--methods", "pca,random", "--resolution", "20",
                                     "--force", "-o", str(out), *dev])


def probes(check: Checker, work: Path, dev: list[str]) -> None:
    """Every probe with --device on a small store; acceleration and topology must refuse a GPU."""
    small = work / "small.zarr"
    check.cli("train the probes' store (2 seeds)", ["train", "poisson1d", "--width", "20", "--steps", "200",
                                                     "--seeds", "2", "--log-every", "10", "--out", str(small), *dev])
    s = str(small)
    for label, argv in (
        ("mli (with 2-seed ensembles)", ["mli", s, "--scales", "1", "--losses", "pinn", "--seeds", "2",
                                         "--steps", "50", "--log-every", "10"]),
        ("hessian-walk", ["hessian-walk", s, "--steps", "5"]),
        ("mode-connectivity", ["mode-connectivity", s, "-t", "pinn-adam-seed0,pinn-adam-seed1", "--iterations",
                               "20"]),
        ("random-planes", ["random-planes", s, "--pairs", "2", "--resolution", "11"]),
        ("random-planes --stochastic 32", ["random-planes", s, "--pairs", "1", "--resolution", "11",
                                           "--stochastic", "32"]),
        ("spectrum", ["spectrum", s, "--every", "5"]),
        ("hessian-plane", ["hessian-plane", s]),
        ("basis", ["basis", s, "--resolution", "11"]),
        ("trajectory-pca", ["trajectory-pca", s, "--resolution", "11"]),
        ("goldilocks", ["goldilocks", s, "--radii", "1,5", "--trials", "2", "--scales", "0.5,1", "--steps", "50"]),
        ("intrinsic-dim", ["intrinsic-dim", s, "--dims", "2,10", "--steps", "50"]),
        ("bad-minima", ["bad-minima", s, "--widths", "20,5", "--runs", "2", "--steps", "50"]),
        ("hessian-landscape", ["hessian-landscape", s, "--dims", "3", "--resolution", "9"]),
    ):
        check.cli(f"probe {label}", ["probe", *argv, *dev])
    conv = work / "convection.zarr"
    check.cli("train convection1d (for the NTK)", ["train", "convection1d", "--steps", "20", "--log-every", "5",
                                                   "--out", str(conv), *dev])
    check.cli("probe ntk", ["probe", "ntk", str(conv), "--points", "50", *dev])
    if dev[1] != "cpu":
        refused = lambda _out, err: err.strip()  # noqa: E731
        check.cli("probe acceleration refuses the GPU", ["probe", "acceleration", s, *dev], expect=2, note=refused)
        check.cli("probe topology refuses the GPU", ["probe", "topology", s, "--landscape",
                                                     "hessian-landscape-pinn-adam-seed0-3d", *dev],
                  expect=2, note=refused)


def tests(check: Checker, device: str) -> None:
    """The tests that need CUDA (they compare each result with the CPU's); a dry run swaps in the CPU."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if device == "cpu":
        env["PINNVIZ_TEST_DEVICE"] = "cpu"
        selection = ["tests/test_cuda_probes.py"]
    else:
        selection = ["tests/test_cuda_probes.py", "tests/test_scale.py", "tests/test_scale_landscape.py", "-k",
                     "cuda"]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selection],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    check.line("pytest (CUDA tests)", done.returncode == 0, time.perf_counter() - start, summary)
    if done.returncode != 0:
        print(done.stdout[-4000:])


if __name__ == "__main__":
    sys.exit(main())
