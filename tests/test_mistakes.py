"""Issue 11, items 1-8: no user mistake breaks a store, leaves a stale result or ends in a traceback.

One work folder of small stores (tests/mistakes.py) is shared by the module. A failed command must
leave every file byte for byte as it was (`folder_hash`); a test that succeeds works on a copy.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr
from mistakes import _bytes_hash, _touched, build_work_folder, folder_hash, invoke, mistakes, run_all, stat_signature

from pinnviz.landscape import load_landscape
from pinnviz.manifolds import load_manifold, manifold_info
from pinnviz.store import open_run


@pytest.fixture(scope="module")
def work():
    folder = Path(tempfile.mkdtemp(prefix="pinnviz-test-mistakes-"))
    build_work_folder(folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def copy(work, tmp_path):
    """A private copy of a store of the work folder (for commands that succeed)."""

    def make(name: str = "s.zarr") -> Path:
        target = tmp_path / name
        shutil.copytree(work / name, target)
        return target

    return make


def one_line(result, text: str) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error:") and text in lines[0], result.stderr
    return lines[0]


def refused(work: Path, argv: list[str], text: str) -> str:
    """The one error line of a refused command, after checking that the stores it names kept their bytes and
    nothing else in the work folder was written."""
    touched = _touched(work, argv)
    before = (stat_signature(work), _bytes_hash(touched))
    line = one_line(invoke(argv), text)
    assert (stat_signature(work), _bytes_hash(touched)) == before, f"{argv} changed the work folder"
    return line


def test_every_mistake_gives_one_line_exit_2_and_leaves_the_stores_unchanged(work):
    listed = mistakes(work)
    assert len(listed) >= 60 and len({m.label for m in listed}) == len(listed)
    commands = {m.argv[0] if m.argv[0] != "--threads" else m.argv[2] for m in listed}
    assert {"train", "info", "fit-manifold", "landscape", "render", "compare", "probe", "demo"} <= commands
    outcomes = run_all(work, listed, echo=lambda _line: None)
    failed = [f"{o.mistake.label}: exit {o.exit_code}, {len(o.stderr_lines)} lines, unchanged={o.unchanged}: "
              f"{o.stderr_lines[:3]}" for o in outcomes if not o.ok]
    assert not failed, "\n".join(failed)


# ---------------------------------------------------------------- 1. names
@pytest.mark.parametrize("name", ["a/b", "../../evil", "a,b", "", " x", ".x", "a\nb"])
def test_bad_trajectory_names_are_refused_before_anything_is_written(work, name):
    refused(work, ["train", "--steps", "2", "--name", name, "--out", str(work / "s.zarr")], "trajectory name")


def test_a_store_with_a_nested_group_still_reads(copy):
    store = copy()
    zarr.open_group(str(store), mode="r+").require_group("trajectories/a/b")  # what `--name a/b` used to leave
    result = invoke(["info", str(store)])
    assert result.exit_code == 0, result.output
    assert "skipped trajectories/a" in result.stderr and "pinn-adam-seed0" in result.stdout
    result = invoke(["fit-manifold", str(store), "--name", "again"])
    assert result.exit_code == 0, result.output
    assert manifold_info(open_run(store), "again")["fitted_on"] == ["pinn-adam-seed0", "pinn-adam-seed1"]


# ---------------------------------------------------------------- 2. stale results, --force
def test_refit_needs_force_and_makes_the_landscape_stale(work, copy):
    refused(work, ["fit-manifold", str(work / "s.zarr"), "--method", "pca"], "pass --force")
    store = copy()
    old = load_landscape(open_run(store).group, "pca")
    result = invoke(["fit-manifold", str(store), "--method", "pca", "--every", "3", "--force"])
    assert result.exit_code == 0, result.output
    before = folder_hash(store)
    line = one_line(invoke(["render", str(store), "-l", "pca", "-o", str(store.parent / "a.png")]), "stale")
    assert f"pinnviz landscape {store} --manifold pca --name pca --force" in line
    assert folder_hash(store) == before and not (store.parent / "a.png").exists()

    # compare recomputes the stale landscape; its e_proj is the new fit's, checked against numpy
    result = invoke(["compare", str(store), "--methods", "pca", "--resolution", "8", "-o", str(store.parent / "c")])
    assert result.exit_code == 0, result.output
    assert "landscape pca (stale" in result.stderr and "reused" not in result.stderr
    run = open_run(store)
    new = load_landscape(run.group, "pca")
    manifold, info = load_manifold(run, "pca"), manifold_info(run, "pca")
    assert new.attrs["manifold_fingerprint"] == info["fingerprint"] != old.attrs["manifold_fingerprint"]
    traj = run.trajectory("pinn-adam-seed0")
    X = traj.params[info["fitted"]["pinn-adam-seed0"]]
    expected = np.linalg.norm(X - manifold.decode(manifold.encode(X)), axis=1) / np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(new.trajectories["pinn-adam-seed0"].relative_projection_error, expected, rtol=1e-10)
    assert len(expected) == 11  # every 3rd of 31 rows and the last
    result = invoke(["render", str(store), "-l", "pca", "-o", str(store.parent / "a.png")])
    assert result.exit_code == 0, result.output


def test_landscape_and_probe_overwrite_need_force(work, copy):
    refused(work, ["landscape", str(work / "s.zarr"), "-m", "pca"], "landscape 'pca' already exists")
    store = copy()
    result = invoke(["landscape", str(store), "-m", "pca", "--resolution", "5", "--force"])
    assert result.exit_code == 0, result.output
    assert load_landscape(open_run(store).group, "pca").losses["pinn"].shape == (5, 5)
    assert invoke(["probe", "mli", str(store)]).exit_code == 0
    before = folder_hash(store)
    one_line(invoke(["probe", "mli", str(store)]), "probe 'mli' already exists")
    assert folder_hash(store) == before
    assert invoke(["probe", "mli", str(store), "--force"]).exit_code == 0


def test_a_grown_trajectory_makes_its_manifold_stale(work):
    refused(work, ["landscape", str(work / "grown.zarr"), "-m", "pca", "--name", "y"],
            "changed after the fit (11 rows then, 31 now)")


# ---------------------------------------------------------------- 3. compare
def test_compare_validates_before_work_and_keeps_other_resolutions(work, copy):
    s = str(work / "s.zarr")
    refused(work, ["compare", s, "--methods", "pca", "--format", "jpg", "-o", str(work / "out")], "--format 'jpg'")
    refused(work, ["compare", s, "--methods", "pca", "--resolution", "12", "-o", str(work / "out")],
            "pass --force")
    store = copy()
    result = invoke(["compare", str(store), "--methods", "pca", "--resolution", "12", "--force",
                     "-o", str(store.parent / "c")])
    assert result.exit_code == 0, result.output
    assert load_landscape(open_run(store).group, "pca").attrs["resolution"] == 12


# ---------------------------------------------------------------- 4. failed options create nothing
def test_a_refused_option_creates_no_store_and_no_trajectory(work):
    fresh = work / "conv.zarr"
    refused(work, ["train", "convection1d", "--balance", "cw", "--weights", "1,2", "--steps", "2", "--out",
                   str(fresh)], "must be 3 finite numbers")
    assert not fresh.exists()
    refused(work, ["train", "--balance", "cw", "--steps", "2", "--out", str(work / "s.zarr")], "no loss components")
    assert open_run(work / "s.zarr").trajectory_names() == ["pinn-adam-seed0", "pinn-adam-seed1"]


# ---------------------------------------------------------------- 5. tracebacks -> one line
def test_a_truncated_chunk_is_one_line_and_info_reads_no_chunk(work):
    refused(work, ["probe", "acceleration", str(work / "damaged.zarr"), "-t", "pinn-adam-seed0"],
            "trajectories/pinn-adam-seed0/loss/pinn")
    # info reads metadata only (the last row's losses are attributes), so it still lists the store
    listed = invoke(["info", str(work / "damaged.zarr"), "--json"])
    assert listed.exit_code == 0, listed.output
    assert [t["rows"] for t in json.loads(listed.stdout)["trajectories"]] == [31, 31]


def test_a_missing_chunk_is_not_called_a_divergence(copy):
    store = copy()
    (store / "trajectories/pinn-adam-seed1/params/c/0/0").unlink()
    before = folder_hash(store)
    line = one_line(invoke(["fit-manifold", str(store), "--name", "x"]), "chunk files")
    assert "missing" in line and "diverged" not in line and folder_hash(store) == before


def test_a_missing_chunk_beside_a_diagnostic_loss_is_not_called_a_divergence(tmp_path):
    """A hyperelastic2d drm run logs `pinn` on diagnostic rows only (NaN on the others, as its attributes say):
    those NaN must not make a missing chunk look like a divergence."""
    from pinnviz.problems import build_physics
    from pinnviz.trainers import TrainConfig, train

    store = tmp_path / "h.zarr"
    physics = build_physics("hyperelastic2d", {"radii": 4, "angles": 8}, width=6)
    train(store, physics, TrainConfig(loss="drm", steps=6, diagnostics_every=3))
    traj = open_run(store).trajectory("drm-adam-seed0")
    assert traj.attrs["diagnostic_losses"] == ["pinn"] and np.isnan(traj.losses["pinn"][1])
    (store / "trajectories/drm-adam-seed0/params/c/0/0").unlink()
    before = folder_hash(store)
    line = one_line(invoke(["fit-manifold", str(store), "--name", "x"]), "chunk files")
    # every row of the chunk counted, not only the diagnostic rows 0, 3 and 6
    assert "in 7 of 7 rows" in line and "diverged" not in line and folder_hash(store) == before


@contextmanager
def _no_write_permission(path: Path):
    from mistakes import read_only

    with read_only(path):
        yield


@pytest.mark.parametrize("argv", [
    ["fit-manifold", "{s}", "--name", "x"], ["landscape", "{s}", "-m", "pca", "--name", "y"],
    ["compare", "{s}", "--methods", "pca", "-o", "{w}/out"], ["train", "--steps", "2", "--out", "{s}"],
])
def test_read_only_store(work, argv):
    argv = [a.format(s=work / "s.zarr", w=work) for a in argv]
    before = folder_hash(work)
    with _no_write_permission(work / "s.zarr"):
        one_line(invoke(argv), "is read-only")
    assert folder_hash(work) == before


def test_render_into_a_read_only_folder(work):
    before = folder_hash(work)
    with _no_write_permission(work / "ro"):
        one_line(invoke(["render", str(work / "s.zarr"), "-l", "pca", "-o", str(work / "ro/a.png")]), "read-only")
    assert folder_hash(work) == before


# ---------------------------------------------------------------- 6. accepted nonsense
@pytest.mark.parametrize("margin", ["nan", "inf", "-0.6"])
def test_margin_must_be_finite_and_non_negative(work, margin):
    refused(work, ["landscape", str(work / "s.zarr"), "-m", "pca", "--name", "y", "--margin", margin],
            f"margin={margin}")


@pytest.mark.parametrize(("solution", "text"), [("sin(pi*x)/x", "is 3.14 at x=0"), ("1/x", "at x=0"),
                                                ("sqrt(x-2)", "not a finite real number")])
def test_solution_checked_by_limits_and_inside_the_domain(work, solution, text):
    refused(work, ["train", "--steps", "2", "--solution", solution, "--out", str(work / "fresh.zarr")], text)


def test_diverging_learning_rate_is_warned(tmp_path):
    store = tmp_path / "lr.zarr"
    result = invoke(["train", "--steps", "20", "--lr", "1e6", "--out", str(store)])
    assert result.exit_code == 0, result.output
    values = open_run(store).trajectory("pinn-adam-seed0").losses["pinn"]
    assert values[-1] > 100 * values[0]  # it really diverged
    assert "training diverged; lower --lr (was 1000000.0)" in result.stderr


# ---------------------------------------------------------------- 7. hessian-plane and trench from fit-manifold
def test_fit_manifold_hessian_plane_gives_the_top_hessian_eigenvectors(copy):
    store = copy()
    result = invoke(["fit-manifold", str(store), "--method", "hessian-plane", "--trajectories", "pinn-adam-seed0"])
    assert result.exit_code == 0, result.output
    run = open_run(store)
    manifold = load_manifold(run, "hessian-plane")
    physics = run.physics()
    theta = torch.as_tensor(run.trajectory("pinn-adam-seed0").params[-1])
    H = torch.autograd.functional.hessian(lambda t: physics(t[None], ["pinn"], functional=True)["pinn"][0],
                                          theta).numpy()
    values = np.linalg.eigvalsh(H)
    for k, v in enumerate(manifold.directions_):  # independent oracle: autograd Hessian, numpy eigvalsh
        Hv = H @ v
        np.testing.assert_allclose(Hv, (v @ Hv) * v, atol=1e-6 * abs(values).max())
        np.testing.assert_allclose(v @ Hv, values[-1 - k], rtol=1e-6)
    result = invoke(["landscape", str(store), "-m", "hessian-plane", "--resolution", "5"])
    assert result.exit_code == 0, result.output


def test_fit_manifold_trench_runs_along_a_null_direction(copy):
    store = copy()
    result = invoke(["fit-manifold", str(store), "--method", "trench", "--trajectories", "pinn-adam-seed0",
                     "--span", "0.5"])
    assert result.exit_code == 0, result.output
    run = open_run(store)
    manifold = load_manifold(run, "trench")
    v = manifold.directions_[0]
    layout = {e["name"]: e for e in run.model["layout"]}
    out = layout["output.weight"]
    size = int(np.prod(out["shape"]))
    assert np.count_nonzero(v) == np.count_nonzero(v[out["offset"]: out["offset"] + size]) > 0
    np.testing.assert_allclose(manifold.directions_ @ manifold.directions_.T, np.eye(2), atol=1e-12)
    # along v the network's output barely changes; along the random direction it does
    physics = run.physics()
    centre = manifold.center_
    points = np.stack([centre, centre + 0.5 * v, centre + 0.5 * manifold.directions_[1]])
    losses = physics.evaluate(torch.as_tensor(points), ["pinn"])["pinn"].numpy()
    assert abs(losses[1] - losses[0]) < 0.01 * abs(losses[2] - losses[0]), losses


# ---------------------------------------------------------------- 8. messages and Ctrl-C
def test_a_range_error_names_the_setting_that_failed(work):
    line = refused(work, ["probe", "random-planes", str(work / "s.zarr"), "--resolution", "1"], "resolution=1")
    assert "pairs" not in line and "extent" not in line


def test_a_store_without_problem_attribute(copy):
    store = copy()
    group = zarr.open_group(str(store), mode="r+")
    attrs = dict(group.attrs)
    attrs.pop("problem")
    group.attrs.clear()
    group.update_attributes(attrs)
    line = one_line(invoke(["info", str(store)]), "no valid 'problem' attribute")
    assert "unknown problem" not in line


def test_ctrl_c_says_what_was_kept_and_how_to_resume(tmp_path, monkeypatch):
    import pinnviz.cli.train as train_cli

    @contextmanager
    def interrupting(*_args, **_kwargs):
        def progress(step, total, losses):
            if step == 15:
                raise KeyboardInterrupt

        yield progress

    store = tmp_path / "c.zarr"
    monkeypatch.setattr(train_cli, "step_progress", interrupting)
    monkeypatch.setattr("pinnviz.trainers._stage.STAGE_ROWS", 1)  # progress every row, not every 64
    result = invoke(["train", "--steps", "40", "--out", str(store)])
    assert result.exit_code == 130, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"continue with: pinnviz train --resume --out {store}" in lines[0], lines
    kept = int(open_run(store).trajectory_attrs("pinn-adam-seed0")["length"])
    assert f"pinn-adam-seed0 {kept} rows" in lines[0]
    monkeypatch.undo()
    result = invoke(["train", "--resume", "--out", str(store)])
    assert result.exit_code == 0, result.output
    assert open_run(store).trajectory("pinn-adam-seed0").steps[-1] == 40


def test_a_metadata_file_being_written_is_not_a_member(short_run):
    """zarr writes zarr.json through a `zarr.<hex>.partial` file (left behind if the writer is killed): a
    listing meanwhile must neither fail nor warn, in a fresh process without pytest's warnings-as-errors."""
    import subprocess
    import sys

    (short_run / "trajectories" / "zarr.0123456789abcdef0123456789abcdef.partial").write_text("{")
    listing = f"from pinnviz.store import open_run; print(open_run({str(short_run)!r}).trajectory_names())"
    for command in (["-W", "default", "-c", listing], ["-m", "pinnviz", "info", str(short_run)]):
        done = subprocess.run([sys.executable, *command], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "pinn-adam-seed0" in done.stdout and done.stderr.strip() == "", done.stderr
