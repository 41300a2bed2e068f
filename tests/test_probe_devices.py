"""`--device` on the probes: one check for every command, and `--device cpu` is exactly the default.

The CUDA side (the same probes on a GPU against the CPU, to a tolerance) is tests/test_cuda_probes.py,
skipped where torch sees no CUDA device.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.devices import check_device
from pinnviz.errors import InvalidSettingError
from pinnviz.probes import load_probe
from pinnviz.problems import build_physics
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, train

runner = CliRunner()
TINY_CONVECTION = {"points": 30, "ic_points": 10, "bc_points": 8, "nx": 8, "nt": 4}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """poisson1d 1-6-6-1 (two pinn seeds, 40 steps, every 5th row) and a tiny convection1d for the NTK."""
    folder = tmp_path_factory.mktemp("devices")
    poisson, convection = folder / "poisson.zarr", folder / "convection.zarr"
    train(poisson, build_physics("poisson1d", width=6, depth=2), TrainConfig(loss="pinn", steps=40, lr=2e-2,
                                                                             seeds=2, log_every=5))
    train(convection, build_physics("convection1d", TINY_CONVECTION, width=6, depth=2),
          TrainConfig(loss="total", steps=10, log_every=2), name="adam")
    return {"poisson": poisson, "convection": convection}


# (store, probe argv after the store, the probes/ group it writes)
CASES = {
    "mli": ("poisson", ["mli", "--points", "7"], "mli"),
    "spectrum": ("poisson", ["spectrum", "--every", "4"], "spectrum-pinn-adam-seed0"),
    "random-planes": ("poisson", ["random-planes", "--pairs", "1", "--resolution", "4"],
                      "random-planes-final-pinn-adam-seed0"),
    "hessian-walk": ("poisson", ["hessian-walk", "--steps", "2"], "hessian-walk-pinn-adam-seed0"),
    "ntk": ("convection", ["ntk", "--points", "6", "--every", "3"], "ntk-adam"),
    "goldilocks": ("poisson", ["goldilocks", "--radii", "2,5", "--trials", "2", "--scales", "1", "--steps", "4",
                               "--log-every", "2"], "goldilocks"),
    "basis": ("poisson", ["basis", "--no-landscape"], "basis-pinn-adam-seed0"),
}


def _probe_arrays(store, argv: list[str], name: str, extra: list[str]) -> dict[str, np.ndarray]:
    command, rest = argv[0], argv[1:]
    result = runner.invoke(app, ["--threads", "1", "probe", command, str(store), *rest, *extra, "--force"])
    assert result.exit_code == 0, result.output
    return load_probe(open_run(store), name)[0]


@pytest.mark.parametrize("probe", list(CASES))
def test_device_cpu_stores_exactly_what_the_default_stores(stores, probe):
    store_key, argv, name = CASES[probe]
    default = _probe_arrays(stores[store_key], argv, name, [])
    on_cpu = _probe_arrays(stores[store_key], argv, name, ["--device", "cpu"])
    assert sorted(default) == sorted(on_cpu) and default
    for key, value in default.items():
        np.testing.assert_array_equal(on_cpu[key], value, err_msg=f"{probe}: {key}")


@pytest.mark.parametrize("device", ["tpu", "gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "cpu:0", ""])
def test_names_other_than_cpu_cuda_and_cuda_n_are_refused(device):
    with pytest.raises(InvalidSettingError, match="is not one of cpu, cuda or cuda:N"):
        check_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_is_refused_without_it(device):
    assert check_device("cpu") == "cpu"
    with pytest.raises(InvalidSettingError, match="CUDA is not available"):
        check_device(device)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_cuda_device_this_machine_lacks_is_refused():
    assert check_device("cuda") == "cuda" and check_device("cuda:0") == "cuda:0"
    with pytest.raises(InvalidSettingError, match="CUDA device"):
        check_device(f"cuda:{torch.cuda.device_count()}")
