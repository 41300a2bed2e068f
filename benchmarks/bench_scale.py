"""Scale: a 1,000-row trajectory of a ~1 M-parameter Poisson net, projected and mapped in bounded memory.

Every step is the real CLI in its own process (`python -m pinnviz --threads 1 ...`), timed, with its
peak resident memory read from `os.wait4` (the kernel's ru_maxrss of that very process):

  large net (width 1000, depth 2: 1,004,000 parameters): train 1,000 logged rows; fit PCA (out of core,
  method of snapshots); fit the autoencoder in the top-64 principal subspace (e_proj against PCA's);
  a 50 x 50 landscape of the PCA plane.
  small net (width 98, depth 2: 9,996 parameters): the same, with the direct autoencoder and the
  subspace one side by side.

    python benchmarks/bench_scale.py [--workdir DIR] [--rows 1000] [--width 1000] [--store-dtype float32]
                                     [--ae-seconds 60] [--resolution 50] [--skip-large|--skip-small] [--keep]

The large store is ~4 GB (float32) or ~8 GB (float64) on disk; it is deleted at the end unless --keep.
Timings are one run on a shared machine: read the ratios and the memory, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zarr

ROOT = Path(__file__).resolve().parents[1]


def run_cli(args: list[str], log: Path) -> dict:
    """Run `python -m pinnviz --threads 1 ARGS`; wall seconds, peak RSS (GiB) and stdout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "pinnviz", "--threads", "1", *args]
    start = time.perf_counter()
    with open(log, "ab") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, cwd=ROOT)
        stdout = proc.stdout.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"failed ({code}): {' '.join(cmd)}; see {log}\n{stdout[-2000:]}")
    return {"seconds": seconds, "peak_rss_gib": usage.ru_maxrss / 2**20, "stdout": stdout}


def du_gib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**30


def fit(store: Path, log: Path, method: str, name: str, *extra: str) -> dict:
    result = run_cli(["fit-manifold", str(store), "--method", method, "--name", name, "--json", *extra], log)
    result["report"] = json.loads(result.pop("stdout"))
    return result


def landscape(store: Path, log: Path, manifold: str, resolution: int) -> dict:
    result = run_cli(["landscape", str(store), "-m", manifold, "--resolution", str(resolution), "--loss", "drm"], log)
    attrs = dict(zarr.open_group(str(store), mode="r")[f"landscapes/{manifold}"].attrs)
    result.pop("stdout")
    result.update(decode_seconds=attrs["decode_seconds"], evaluate_seconds=attrs["evaluate_seconds"])
    return result


def one_net(label: str, store: Path, log: Path, args, width: int, autoencoders: list[tuple[str, list[str]]]):
    print(f"\n== {label}: width {width}, depth 2, {args.rows} logged rows ({store})", flush=True)
    rows = {}
    trained = run_cli(["train", "poisson1d", "--width", str(width), "--depth", "2", "--steps", str(args.rows - 1),
                       "--points", str(args.points), "--store-dtype", args.store_dtype, "--out", str(store),
                       "--name", "traj"], log)
    trained.pop("stdout")
    shape = zarr.open_group(str(store), mode="r")["trajectories/traj/params"].shape
    trained.update(shape=list(shape), store_gib=du_gib(store))
    print(f"train: {shape[0]} x {shape[1]:,} ({args.store_dtype}, {trained['store_gib']:.2f} GiB on disk) in "
          f"{trained['seconds']:.0f} s, peak RSS {trained['peak_rss_gib']:.2f} GiB", flush=True)
    rows["train"] = trained
    pca = fit(store, log, "pca", "pca")
    rows["pca"] = pca
    print(f"pca ({pca['report']['points']} points x {pca['report']['params']:,} params): "
          f"{pca['seconds']:.0f} s, peak RSS {pca['peak_rss_gib']:.2f} GiB, "
          f"e_proj {pca['report']['mean_projection_error']:.3e}", flush=True)
    for name, options in autoencoders:
        ae = fit(store, log, "autoencoder", name, "--seconds", str(args.ae_seconds), *options)
        rows[name] = ae
        report = ae["report"]
        sub = (f"subspace k={report['subspace']}, residual {report['subspace_residual']:.3e}, "
               if report.get("subspace") else "direct (full vectors), ")
        print(f"{name}: {sub}{ae['seconds']:.0f} s, peak RSS {ae['peak_rss_gib']:.2f} GiB, e_proj "
              f"{report['mean_projection_error']:.3e} = PCA's / "
              f"{pca['report']['mean_projection_error'] / report['mean_projection_error']:.2f}", flush=True)
    land = landscape(store, log, "pca", args.resolution)
    rows["landscape"] = land
    print(f"landscape pca {args.resolution}x{args.resolution} (drm): {land['seconds']:.0f} s (decode "
          f"{land['decode_seconds']:.1f} s, losses {land['evaluate_seconds']:.1f} s), peak RSS "
          f"{land['peak_rss_gib']:.2f} GiB", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="Where the stores go (default: a temp dir).")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--small-width", type=int, default=98)
    parser.add_argument("--points", type=int, default=32, help="Quadrature points of the Poisson problem.")
    parser.add_argument("--store-dtype", default="float32")
    parser.add_argument("--ae-seconds", type=float, default=60.0)
    parser.add_argument("--resolution", type=int, default=50)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-small", action="store_true")
    parser.add_argument("--keep", action="store_true", help="Keep the stores.")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="pinnviz-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "bench_scale.log"
    results = {"settings": {k: str(v) for k, v in vars(args).items()}}
    try:
        if not args.skip_small:
            results["small"] = one_net("small net", workdir / "small.zarr", log, args, args.small_width,
                                       [("ae-direct", ["--subspace", "0"]),
                                        ("ae-subspace", ["--subspace", str(min(64, args.rows))])])
        if not args.skip_large:
            results["large"] = one_net("large net", workdir / "large.zarr", log, args, args.width,
                                       [("ae-subspace", [])])
    finally:
        (workdir / "bench_scale.json").write_text(json.dumps(results, indent=2))
        print(f"\nresults: {workdir / 'bench_scale.json'}")
        if not args.keep:
            for name in ("small.zarr", "large.zarr"):
                shutil.rmtree(workdir / name, ignore_errors=True)


if __name__ == "__main__":
    main()
