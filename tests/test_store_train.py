import json
import re

import numpy as np
import pytest
import torch
import zarr

from pinnviz.errors import (
    IncompatibleRunError,
    InvalidSettingError,
    NonFiniteError,
    NotARunError,
    RunNotFoundError,
    SchemaTooNewError,
    UnknownNameError,
)
from pinnviz.nets import MLP
from pinnviz.problems import PhysicsLosses, Poisson1D
from pinnviz.store import TrajectoryWriter, open_run
from pinnviz.trainers import TrainConfig, resume, train


def test_store_opens_with_plain_zarr_and_describes_itself(short_run):
    group = zarr.open_group(str(short_run), mode="r")
    attrs = group.attrs.asdict()
    assert attrs["pinnviz"]["schema"] == 1
    assert attrs["problem"] == {"name": "poisson1d", "solution": "default", "quadrature": "midpoint",
                                "points": 100, "seed": 0}
    assert attrs["model"]["layout"][2] == {"name": "hidden.1.weight", "shape": [20, 20], "offset": 40}
    traj = group["trajectories/pinn-adam-seed0"]
    assert traj["params"].shape == (41, 480)
    assert traj["params"].metadata.dimension_names == ("step", "param")
    assert traj["step"][:].tolist() == list(range(41))
    assert sorted(n for n, _ in traj["loss"].arrays()) == ["drm", "l2_error", "pinn"]
    assert traj.attrs["status"] == "complete"


def test_row_t_holds_the_losses_of_that_very_vector(short_run):
    run = open_run(short_run)
    traj = run.trajectory("pinn-adam-seed0")
    again = run.physics().evaluate(torch.as_tensor(traj.params), ["drm", "pinn", "l2_error"])
    for name, values in again.items():
        np.testing.assert_allclose(traj.losses[name], values.numpy(), rtol=1e-12, atol=1e-14)
    assert traj.losses["pinn"][-1] < traj.losses["pinn"][0]


def test_seeds_trained_as_one_batch_equal_separate_runs(tmp_path, poisson_physics):
    config = TrainConfig(loss="drm", steps=25, seed=3, seeds=3, lr=3e-3)
    names = train(tmp_path / "batch.zarr", poisson_physics, config)
    assert names == ["drm-adam-seed3", "drm-adam-seed4", "drm-adam-seed5"]
    single = TrainConfig(loss="drm", steps=25, seed=4, lr=3e-3)
    train(tmp_path / "single.zarr", poisson_physics, single, name="alone")
    batched = open_run(tmp_path / "batch.zarr").trajectory("drm-adam-seed4").params
    alone = open_run(tmp_path / "single.zarr").trajectory("alone").params
    np.testing.assert_allclose(batched, alone, rtol=1e-12, atol=1e-14)


def test_log_every_keeps_the_last_step(tmp_path, poisson_physics):
    train(tmp_path / "r.zarr", poisson_physics, TrainConfig(steps=23, log_every=5, optimizer="sgd", lr=1e-4))
    traj = open_run(tmp_path / "r.zarr").trajectory("pinn-sgd-seed0")
    assert traj.steps.tolist() == [0, 5, 10, 15, 20, 23]


def test_adding_a_trajectory_checks_problem_and_model(short_run, poisson_physics):
    train(short_run, poisson_physics, TrainConfig(loss="drm", steps=5))
    assert open_run(short_run).trajectory_names() == ["drm-adam-seed0", "pinn-adam-seed0"]
    with pytest.raises(IncompatibleRunError, match="already exists"):
        train(short_run, poisson_physics, TrainConfig(loss="drm", steps=5))
    wider = PhysicsLosses(Poisson1D(), MLP(1, 1, 30, 2))
    with pytest.raises(IncompatibleRunError, match="different model \\(layout, width differ\\)"):
        train(short_run, wider, TrainConfig(loss="drm", steps=5), name="wide")
    assert open_run(short_run).trajectory_names() == ["drm-adam-seed0", "pinn-adam-seed0"]


def test_divergence_is_recorded_not_hidden(tmp_path, poisson_physics):
    with pytest.raises(NonFiniteError, match="became non-finite") as raised:
        train(tmp_path / "r.zarr", poisson_physics, TrainConfig(optimizer="sgd", lr=10.0, steps=200))
    traj = open_run(tmp_path / "r.zarr").trajectory("pinn-sgd-seed0")
    assert traj.status == "failed" and "non-finite" in traj.attrs["failure"]
    assert 1 < len(traj.steps) < 201
    # rows are handed to the writer up to 64 at a time: the store ends at the first non-finite row, whatever the
    # rows staged after it
    failed_at = int(re.search(r"at step (\d+)", str(raised.value)).group(1))
    assert traj.steps.tolist() == list(range(failed_at + 1))
    assert np.isfinite(traj.losses["pinn"][:-1]).all() and not np.isfinite(traj.losses["pinn"][-1])


def test_each_flush_records_its_own_rows_optimizer_state(tmp_path, poisson_physics, monkeypatch):
    """Blocks of 5 rows and a stage of 64: the stage hands over before the block is full, so each flush
    records the optimizer state of its own last row; stopped after three blocks, the run resumes exactly."""
    monkeypatch.setattr("pinnviz.store._writer.rows_per_block", lambda n_params, itemsize=8: 5)

    class Stop(Exception):
        pass

    def progress(step, total, values):
        if step == 14:
            raise Stop

    config = TrainConfig(loss="pinn", steps=30, lr=1e-2)
    with pytest.raises(Stop):
        train(tmp_path / "a.zarr", poisson_physics, config, progress=progress)
    assert zarr.open_group(str(tmp_path / "a.zarr"), mode="r")["trajectories/pinn-adam-seed0"].attrs["length"] == 15
    resume(tmp_path / "a.zarr")
    train(tmp_path / "b.zarr", poisson_physics, config)
    a, b = (open_run(tmp_path / f"{x}.zarr").trajectory("pinn-adam-seed0") for x in "ab")
    assert a.steps.tolist() == b.steps.tolist() == list(range(31))
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a.losses["pinn"], b.losses["pinn"], rtol=1e-10, atol=1e-14)


def test_rows_appended_together_equal_rows_appended_one_by_one(tmp_path):
    group = zarr.open_group(str(tmp_path / "w.zarr"), mode="w")
    rng = np.random.default_rng(0)
    steps, params, losses = np.arange(7) * 3, rng.normal(size=(7, 3)), rng.normal(size=7)
    one = TrajectoryWriter.create(group, "one", 3, ["a", "b"], {}, block=4)
    for k in range(7):
        one.append(int(steps[k]), params[k], {"a": float(losses[k])})
        if one.due():
            one.flush()
    one.close("complete")
    many = TrajectoryWriter.create(group, "many", 3, ["a", "b"], {}, block=4)
    with pytest.raises(ValueError, match="5 rows do not fit in the 4 rows left"):
        many.append_rows(steps[:5], params[:5], {"a": losses[:5]})
    many.append_rows(steps[:4], params[:4], {"a": losses[:4]})
    assert many.space() == 0 and many.due()
    many.flush()
    many.append_rows(steps[4:], params[4:], {"a": losses[4:]})
    many.close("complete")
    for name in ("one", "many"):
        traj = group[name]
        assert traj.attrs["length"] == 7
        np.testing.assert_array_equal(traj["step"][:], steps)
        np.testing.assert_array_equal(traj["params"][:], params)
        np.testing.assert_array_equal(traj["loss/a"][:], losses)
        assert np.isnan(traj["loss/b"][:]).all()


def test_close_writes_only_what_the_last_flush_did_not_record(tmp_path, monkeypatch):
    """A flush that recorded the final status with the last rows leaves the close nothing to write; a close
    with another status, or with rows buffered since, still writes them."""
    group = zarr.open_group(str(tmp_path / "w.zarr"), mode="w")
    writes = []
    original = TrajectoryWriter._write
    monkeypatch.setattr(TrajectoryWriter, "_write", lambda self, rows, *a, **k: (writes.append(rows.n),
                                                                                  original(self, rows, *a, **k)))
    done = TrajectoryWriter.create(group, "done", 2, ["a"], {})
    assert sorted(name for name, _ in done.group["resume"].groups()) == ["slot0", "slot1"]
    done.append(0, np.zeros(2), {"a": 1.0})
    done.flush({"x": np.ones(2)}, {"step": 0}, {"status": "complete"})
    done.close("complete")
    assert writes == [1] and group["done"].attrs["status"] == "complete" and group["done"].attrs["length"] == 1
    failed = TrajectoryWriter.create(group, "failed", 2, ["a"], {})
    failed.append(0, np.zeros(2), {"a": 1.0})
    failed.flush(extra_attrs={"status": "complete"})
    failed.close("failed", failure="stopped")
    later = TrajectoryWriter.create(group, "later", 2, ["a"], {})
    later.flush(extra_attrs={"status": "complete"})
    later.append(0, np.zeros(2), {"a": 1.0})
    later.close("complete")
    assert writes == [1, 1, 0, 0, 1]
    assert dict(group["failed"].attrs)["status"] == "failed" and group["failed"].attrs["failure"] == "stopped"
    assert group["later"].attrs["length"] == 1


def test_open_errors(tmp_path):
    with pytest.raises(RunNotFoundError, match="no store at"):
        open_run(tmp_path / "missing.zarr")
    (tmp_path / "plain").mkdir()
    with pytest.raises(NotARunError, match="not a pinnviz store"):
        open_run(tmp_path / "plain")
    zarr.open_group(str(tmp_path / "other.zarr"), mode="w")
    with pytest.raises(NotARunError, match="no 'pinnviz' attribute"):
        open_run(tmp_path / "other.zarr")
    group = zarr.open_group(str(tmp_path / "future.zarr"), mode="w")
    group.attrs["pinnviz"] = {"schema": 99, "version": "9.0"}
    with pytest.raises(SchemaTooNewError, match="schema 99, newer than this pinnviz"):
        open_run(tmp_path / "future.zarr")


def test_bad_settings(tmp_path, poisson_physics):
    with pytest.raises(UnknownNameError, match="unknown optimizer 'newton'"):
        train(tmp_path / "r.zarr", poisson_physics, TrainConfig(optimizer="newton"))
    with pytest.raises(InvalidSettingError, match="lr=-1.0 must be a positive number"):
        train(tmp_path / "r.zarr", poisson_physics, TrainConfig(lr=-1.0))
    assert not (tmp_path / "r.zarr").exists()


def test_paper_settings_reach_one_percent_l2_error(tmp_path, poisson_physics):
    """Width 20, depth 2, Adam, lr 1e-3, 7500 steps (Rowan et al. 2024, section 2), both objectives."""
    for loss in ("drm", "pinn"):
        train(tmp_path / "paper.zarr", poisson_physics, TrainConfig(loss=loss, steps=7500))
    run = open_run(tmp_path / "paper.zarr")
    finals = {n: float(run.trajectory(n).losses["l2_error"][-1]) for n in run.trajectory_names()}
    assert all(v < 1e-2 for v in finals.values()), json.dumps(finals)
