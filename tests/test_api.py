"""The public Python API: cheap to import, docstring examples that run, the README's notebook example."""

from __future__ import annotations

import doctest
import hashlib
import importlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import pinnviz
from pinnviz.cli import app
from pinnviz.nets import MLP
from tests.test_landscape import reference_loss

ROOT = Path(__file__).resolve().parents[1]
DOCTESTED = sorted(str(p.relative_to(ROOT).with_suffix("")).replace("/", ".").removesuffix(".__init__")
                   for p in (ROOT / "pinnviz").rglob("*.py") if ">>>" in p.read_text())


def test_import_is_cheap_and_every_public_name_resolves():
    code = "import sys, pinnviz; print(sorted(m for m in ('torch', 'matplotlib', 'sklearn') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=ROOT).stdout.strip()
    assert loaded == "[]"
    for name in pinnviz.__all__:
        assert getattr(pinnviz, name) is not None, name
    assert pinnviz.compute_landscape.__doc__ and pinnviz.probe_figure.__doc__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pinnviz.nope  # noqa: B018


@pytest.mark.parametrize("module", DOCTESTED)
def test_docstring_examples_run(module):
    failures, tried = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0, module


def _tree_hash(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode() + file.read_bytes())
    return digest.hexdigest()


def test_readme_notebook_example(tmp_path, monkeypatch):
    """The README's block runs on a store the CLI trained, writes nothing to it, and gives true losses."""
    block = next(b for b in re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
                 if "compute_landscape(run, pca" in b)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--threads", "1", "train", "poisson1d", "--loss", "pinn", "--steps", "30",
                                      "--out", "run.zarr"])
    assert result.exit_code == 0, result.output
    before = _tree_hash(tmp_path / "run.zarr")
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert _tree_hash(tmp_path / "run.zarr") == before
    assert (tmp_path / "pca-unsaved.png").stat().st_size > 0
    data, pca, run = namespace["data"], namespace["pca"], namespace["run"]
    assert data.losses["pinn"].shape == (30, 30) and data.attrs["manifold"] == ""
    net = MLP.from_settings(run.model)
    for i1, i0 in [(0, 0), (17, 4), (29, 29)]:
        theta = pca.decode(np.array([[data.axis_0[i0], data.axis_1[i1]]]))[0]
        assert data.losses["pinn"][i1, i0] == pytest.approx(reference_loss(net, theta, "pinn"), rel=1e-9)
    # the diagnostics cover every row of the store's trajectory, encoded by the in-memory manifold
    traj = run.trajectory("pinn-adam-seed0")
    np.testing.assert_allclose(data.trajectories["pinn-adam-seed0"].coords, pca.encode(traj.params), rtol=1e-12)


def test_unsaved_manifold_landscape_is_not_stored(short_run):
    run = pinnviz.open_run(short_run)
    pca, _ = pinnviz.fit_manifold(run, "pca", save=False)
    with pytest.raises(pinnviz.PinnvizError, match="unsaved manifold is not stored"):
        pinnviz.compute_landscape(run, pca, resolution=3, save=True)
