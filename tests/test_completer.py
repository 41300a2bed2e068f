"""The losses a step did not compute, filled in by a forked second process: the same values as here.

The process is a copy of this one (the same physics and quadrature); these tests check its values against
`PhysicsLosses.evaluate` in this process and against an independent autograd evaluation (via the stored
rows), that a killed process is replaced by evaluation here, that a process is kept for the next run of
the same physics only, and that none outlives this process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from pinnviz.problems import build_physics
from pinnviz.store import open_run
from pinnviz.trainers import TrainConfig, _completer, train
from pinnviz.trainers._completer import KEPT, PROCESS_MIN_ROWS, RowCompleter
from tests.test_train_rows import hyperelastic_reference, poisson_reference

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the second process is forked on Linux only")


def _block(physics, rows: int = 11):
    theta = physics.net.init(rows, generator=torch.Generator().manual_seed(3))
    return np.arange(0, 10 * rows, 10), theta.numpy()


@pytest.mark.parametrize("problem,options,model", [("poisson1d", {}, {"width": 8}),
                                                  ("hyperelastic2d", {"radii": 4, "angles": 8}, {"width": 6})])
def test_the_process_gives_the_values_of_an_evaluation_here(problem, options, model):
    physics = build_physics(problem, options, **model)
    batch = physics.prepare(physics.net.init(1))
    steps, params = _block(physics)
    names = [n for n in physics.names if n != "drm"]
    sparse = names[-1:]  # one loss only on every third row, as convection's test grid
    here = RowCompleter(physics, batch, sparse=sparse, sparse_rows=lambda s: s % 30 == 0, second_process=False)
    there = RowCompleter(physics, batch, sparse=sparse, sparse_rows=lambda s: s % 30 == 0,
                         rows_expected=PROCESS_MIN_ROWS)
    assert here._process is None and there._process is not None
    try:
        expected, got = here(steps, params, names), there(steps, params, names)
        assert there._process is not None  # it answered
    finally:
        there.close()
    direct = physics.evaluate(torch.as_tensor(params), names, batch=batch)
    for name in names:
        np.testing.assert_array_equal(got[name], expected[name])
        if name in sparse:
            assert np.isnan(got[name][steps % 30 != 0]).all()
            np.testing.assert_array_equal(got[name][steps % 30 == 0], direct[name].numpy()[steps % 30 == 0])
        else:
            np.testing.assert_array_equal(got[name], direct[name].numpy())


def test_a_killed_process_is_replaced_by_evaluation_here():
    physics = build_physics("poisson1d", width=8)
    batch = physics.prepare(physics.net.init(1))
    steps, params = _block(physics)
    completer = RowCompleter(physics, batch, rows_expected=PROCESS_MIN_ROWS)
    os.kill(completer._process.pid, signal.SIGKILL)
    got = completer(steps, params, ["pinn", "l2_error"])
    assert completer._process is None  # given up: evaluated here from now on
    direct = physics.evaluate(torch.as_tensor(params), ["pinn", "l2_error"], batch=batch)
    for name in ("pinn", "l2_error"):
        np.testing.assert_array_equal(got[name], direct[name].numpy())


def _spy_processes(monkeypatch) -> list:
    """The LossProcess objects a run creates, with the number of blocks each evaluated."""
    made = []
    original_init, original_evaluate = _completer.LossProcess.__init__, _completer.LossProcess.evaluate

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.blocks = 0
        made.append(self)

    def evaluate(self, *args, **kwargs):
        self.blocks += 1
        return original_evaluate(self, *args, **kwargs)

    monkeypatch.setattr(_completer.LossProcess, "__init__", init)
    monkeypatch.setattr(_completer.LossProcess, "evaluate", evaluate)
    return made


@pytest.mark.parametrize("problem,options,model,loss,reference", [
    ("poisson1d", {}, {"width": 8}, "drm", poisson_reference),
    ("hyperelastic2d", {"radii": 4, "angles": 8}, {"width": 6}, "drm", hyperelastic_reference)],
    ids=["poisson1d-drm", "hyperelastic2d-drm"])
def test_a_run_fills_rows_in_through_the_process_and_leaves_none_behind(tmp_path, monkeypatch, problem, options,
                                                                        model, loss, reference):
    made = _spy_processes(monkeypatch)
    physics = build_physics(problem, options, **model)
    steps = PROCESS_MIN_ROWS + 20
    # every loss on every row: hyperelastic2d's `pinn`, a diagnostic of a drm run, included
    (name,) = train(tmp_path / "run.zarr", physics, TrainConfig(loss=loss, steps=steps, lr=1e-2, diagnostics_every=1))
    (process,) = made
    assert process.blocks > 0
    assert process.alive() and KEPT._kept[0] is process  # kept, idle, for the next run
    assert KEPT.pid() == process.pid
    KEPT.end()
    assert KEPT.pid() is None
    with pytest.raises(ChildProcessError):  # ended and reaped
        os.waitpid(process.pid, os.WNOHANG)
    traj = open_run(tmp_path / "run.zarr").trajectory(name)
    assert np.isfinite(np.stack(list(traj.losses.values()))).all()
    for row in (0, 1, steps // 2, steps - 1, steps):
        expected = reference(physics, torch.as_tensor(traj.params[row]))
        for key, value in expected.items():
            np.testing.assert_allclose(traj.losses[key][row], value, rtol=1e-10, atol=1e-13, err_msg=f"{key} {row}")


def test_no_process_for_a_short_run_or_when_declined(tmp_path, monkeypatch):
    made = _spy_processes(monkeypatch)
    physics = build_physics("poisson1d", width=8)
    train(tmp_path / "a.zarr", physics, TrainConfig(loss="drm", steps=PROCESS_MIN_ROWS - 2))
    train(tmp_path / "b.zarr", physics, TrainConfig(loss="drm", steps=3 * PROCESS_MIN_ROWS), second_process=False)
    assert made == []


def _stored_losses_match(path, name, physics, reference, rows) -> None:
    traj = open_run(path).trajectory(name)
    for row in rows:
        for key, value in reference(physics, torch.as_tensor(traj.params[row])).items():
            np.testing.assert_allclose(traj.losses[key][row], value, rtol=1e-10, atol=1e-13, err_msg=f"{key} {row}")


def test_the_next_run_of_the_same_physics_reuses_the_process_and_any_other_ends_it(tmp_path, monkeypatch):
    made = _spy_processes(monkeypatch)
    physics = build_physics("poisson1d", width=8)
    steps = PROCESS_MIN_ROWS + 20
    for k in range(2):  # the second run from another seed: other vectors, the same physics and quadrature
        (name,) = train(tmp_path / f"same{k}.zarr", physics, TrainConfig(loss="drm", steps=steps, lr=1e-2, seed=k))
        _stored_losses_match(tmp_path / f"same{k}.zarr", name, physics, poisson_reference, (1, steps // 2, steps))
    assert len(made) == 1 and made[0].blocks > 1

    # another problem in the same object: the forked copy would give the losses of the old one
    physics.problem = build_physics("poisson1d", {"solution": "x*(1-x)"}).problem
    (name,) = train(tmp_path / "changed.zarr", physics, TrainConfig(loss="drm", steps=steps, lr=1e-2))
    _stored_losses_match(tmp_path / "changed.zarr", name, physics, poisson_reference, (1, steps // 2, steps))
    other = build_physics("hyperelastic2d", {"radii": 4, "angles": 8}, width=6)
    (name,) = train(tmp_path / "other.zarr", other, TrainConfig(loss="drm", steps=steps, lr=1e-2, diagnostics_every=1))
    _stored_losses_match(tmp_path / "other.zarr", name, other, hyperelastic_reference, (1, steps))
    assert len(made) == 3
    for ended in made[:2]:
        with pytest.raises(ChildProcessError):  # ended and reaped when the next run did not match it
            os.waitpid(ended.pid, os.WNOHANG)
    assert made[2].alive()
    KEPT.end()


def test_a_process_left_in_the_middle_of_a_block_is_not_kept():
    physics = build_physics("poisson1d", width=8)
    batch = physics.prepare(physics.net.init(1))
    completer = RowCompleter(physics, batch, rows_expected=PROCESS_MIN_ROWS)
    process = completer._process
    process.answered = False  # as after a request whose reply was never read
    completer.close()
    assert KEPT._kept is None
    with pytest.raises(ChildProcessError):
        os.waitpid(process.pid, os.WNOHANG)


def test_the_kept_process_ends_with_this_process(tmp_path):
    script = (
        "from pinnviz.problems import build_physics\n"
        "from pinnviz.trainers import TrainConfig, train\n"
        "from pinnviz.trainers._completer import KEPT, PROCESS_MIN_ROWS\n"
        f"train({str(tmp_path / 'run.zarr')!r}, build_physics('poisson1d', width=8), "
        "TrainConfig(loss='drm', steps=PROCESS_MIN_ROWS + 20))\n"
        "print(KEPT._kept[0].pid)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:  # reaped by its parent at exit
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists()
