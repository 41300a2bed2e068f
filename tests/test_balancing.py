import pytest
import torch
import zarr

from pinnviz.errors import IncompatibleRunError, InvalidSettingError, UnknownNameError
from pinnviz.problems import build_physics
from pinnviz.trainers import TrainConfig, train
from pinnviz.trainers._train import _ntk_subset

TINY = {"beta": 3.0, "points": 20, "ic_points": 8, "bc_points": 6, "nx": 8, "nt": 4}
COMPONENTS = ("residual", "ic", "bc")
LR = 0.05


@pytest.fixture(scope="module")
def physics():
    return build_physics("convection1d", TINY, width=5, depth=1)


def stored(path, name):
    group = zarr.open_group(str(path), mode="r")[f"trajectories/{name}"]
    weights = torch.stack([torch.as_tensor(group[f"weights/{c}"][:]) for c in COMPONENTS], 1)
    return torch.as_tensor(group["params"][:]), weights, group


def losses_and_grads(physics, theta):
    """Component losses (C,) and gradients (C, n_params) of one vector, by autograd."""
    t = theta.clone().requires_grad_(True)
    values = physics(t[None], list(COMPONENTS))
    grads = torch.stack([torch.autograd.grad(values[c][0], t, retain_graph=True)[0] for c in COMPONENTS])
    return torch.stack([values[c][0].detach() for c in COMPONENTS]), grads


def ntk_traces(physics, theta):
    """Mean NTK diagonal of each block by per-point autograd (every point: the subset is all of them)."""
    t = theta.clone().requires_grad_(True)
    problem = physics.problem
    batch = physics.prepare(t[None].detach())
    fields = physics.net.fields(t[None], batch["x"][: problem.points_needed(["total"])], 1)
    pointwise = problem.pointwise(fields, batch)
    out = []
    for c in COMPONENTS:
        q = pointwise[c][0]
        diag = [torch.autograd.grad(q[j], t, retain_graph=True)[0].square().sum() for j in range(q.shape[0])]
        out.append(torch.stack(diag).mean())
    return torch.stack(out)


def expected_weights(method, physics, params):
    """Hand computation of each row's weights from the stored parameters."""
    rows, state = [], {}
    for t in range(params.shape[0]):
        loss, grads = losses_and_grads(physics, params[t])
        if method == "ew":
            w = torch.ones(3, dtype=torch.float64)
        elif method == "cw":
            w = torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64)
        elif method == "dwa":
            hist = state.setdefault("hist", [])
            w = (torch.ones(3, dtype=torch.float64) if len(hist) < 2
                 else 3 * torch.softmax(hist[-1] / hist[-2] / 2.0, 0))
            hist.append(loss)
        elif method == "lra":
            lam = state.get("lam", torch.ones(3, dtype=torch.float64))
            hat = grads[0].abs().max() / grads.abs().mean(dim=1)
            lam = torch.cat([lam[:1], 0.1 * lam[1:] + 0.9 * hat[1:]])
            state["lam"] = w = lam
        elif method == "gradnorm":
            w = state.get("w", torch.ones(3, dtype=torch.float64))
            l0 = state.setdefault("l0", loss)
            norms = grads.norm(dim=1)
            ratio = loss / l0
            target = (w * norms).mean() * (ratio / ratio.mean()) ** 1.5
            new = (w - 0.01 * torch.sign(w * norms - target) * norms).clamp_min(1e-8)
            state["w"] = 3 * new / new.sum()
        elif method == "rlw":
            gen = state.setdefault("gen", torch.Generator().manual_seed(0))
            w = 3 * torch.softmax(torch.randn(1, 3, generator=gen, dtype=torch.float64)[0], 0)
        elif method == "ntk":
            tr = ntk_traces(physics, params[t])
            w = tr.sum() / tr
        rows.append(w)
        state.setdefault("grads", []).append(grads)
    return torch.stack(rows), state["grads"]


@pytest.mark.parametrize("method", ["ew", "cw", "dwa", "lra", "gradnorm", "rlw", "ntk"])
def test_weights_match_a_hand_computation(tmp_path, physics, method):
    path = tmp_path / "b.zarr"
    config = TrainConfig(loss="total", optimizer="sgd", lr=LR, steps=3, balance=method, ntk_points=1000,
                         weights=[1.0, 10.0, 100.0] if method == "cw" else None)
    (name,) = train(path, physics, config, name=method)
    params, weights, group = stored(path, name)
    assert params.shape[0] == weights.shape[0] == 4  # one weight row per params row
    expected, grads = expected_weights(method, physics, params)
    torch.testing.assert_close(weights, expected, rtol=1e-9, atol=1e-12)
    for t in range(3):  # each step used its row's weights: theta' = theta - lr sum_c w_c grad L_c
        step = params[t] - LR * (weights[t][:, None] * grads[t]).sum(0)
        torch.testing.assert_close(params[t + 1], step, rtol=1e-9, atol=1e-12)
    assert group.attrs["balance"] == method


def test_ntk_subset_is_seeded_and_bounded(physics):
    config = TrainConfig(ntk_points=4)
    a, b = _ntk_subset(physics, config), _ntk_subset(physics, config)
    assert all(torch.equal(a[c], b[c]) and len(a[c]) == 4 for c in COMPONENTS)


def test_lbfgs_decreases_the_loss_every_iteration(tmp_path, physics):
    config = TrainConfig(loss="total", optimizer="lbfgs", steps=12)
    (name,) = train(tmp_path / "l.zarr", physics, config, name="lbfgs")
    group = zarr.open_group(str(tmp_path / "l.zarr"), mode="r")[f"trajectories/{name}"]
    total = group["loss/total"][:]
    assert len(total) == 13 and (total[1:] <= total[:-1]).all(), total
    assert total[-1] < 0.6 * total[0], total


def test_adam_then_lbfgs_with_balancing(tmp_path, physics):
    config = TrainConfig(loss="total", optimizer="adam+lbfgs", lr=1e-2, steps=10, lbfgs_after=5, balance="ew")
    (name,) = train(tmp_path / "a.zarr", physics, config, name="switch")
    group = zarr.open_group(str(tmp_path / "a.zarr"), mode="r")[f"trajectories/{name}"]
    total = group["loss/total"][:]
    assert (total[6:] <= total[5:-1]).all(), total  # the L-BFGS iterations
    assert group.attrs["status"] == "complete" and group.attrs["lbfgs_after"] == 5


def test_six_methods_share_one_initialisation(tmp_path, physics):
    path = tmp_path / "six.zarr"
    for method in ("ew", "rlw"):
        train(path, physics, TrainConfig(loss="total", steps=2, balance=method), name=method)
    first = [zarr.open_group(str(path), mode="r")[f"trajectories/{m}/params"][0] for m in ("ew", "rlw")]
    assert (first[0] == first[1]).all()


def test_bad_balancing_settings(tmp_path, physics):
    with pytest.raises(UnknownNameError, match="unknown balancing method 'magic'"):
        train(tmp_path / "x.zarr", physics, TrainConfig(loss="total", balance="magic"))
    with pytest.raises(InvalidSettingError, match="weights=\\[1.0\\] must be 3 finite numbers"):
        train(tmp_path / "y.zarr", physics, TrainConfig(loss="total", balance="cw", weights=[1.0], steps=1))
    poisson = build_physics("poisson1d")
    with pytest.raises(InvalidSettingError, match="no loss components to balance"):
        train(tmp_path / "z.zarr", poisson, TrainConfig(balance="ew"))
    with pytest.raises(InvalidSettingError, match="lbfgs_after=20 must be between 0 and steps=10"):
        train(tmp_path / "w.zarr", physics, TrainConfig(loss="total", optimizer="adam+lbfgs", steps=10,
                                                        lbfgs_after=20))


class Stop(Exception):
    pass


def interrupted_then_resumed(tmp_path, physics, config, monkeypatch, stop_at):
    from pinnviz.store import TrajectoryWriter
    from pinnviz.trainers import resume

    monkeypatch.setattr(TrajectoryWriter, "due", lambda self: True)  # flush (and record resume state) every row
    monkeypatch.setattr("pinnviz.trainers._stage.STAGE_ROWS", 1)  # hand over (and report progress) every row

    def progress(step, total, values):
        if step == stop_at:
            raise Stop

    path = tmp_path / "killed.zarr"
    with pytest.raises(Stop):
        train(path, physics, config, name="run", progress=progress)
    return path, resume


@pytest.mark.parametrize("method", ["dwa", "gradnorm", "rlw"])
def test_balanced_run_resumes_exactly(tmp_path, physics, method, monkeypatch):
    config = TrainConfig(loss="total", lr=1e-2, steps=12, balance=method)
    path, resume = interrupted_then_resumed(tmp_path, physics, config, monkeypatch, stop_at=6)
    assert zarr.open_group(str(path), mode="r")["trajectories/run"].attrs["length"] == 7  # rows 0-6 kept
    resume(path)
    train(tmp_path / "whole.zarr", physics, config, name="run")
    a, wa, _ = stored(path, "run")
    b, wb, _ = stored(tmp_path / "whole.zarr", "run")
    assert a.shape == b.shape == (13, physics.net.n_params)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    torch.testing.assert_close(wa, wb, rtol=0, atol=1e-10)


def test_lbfgs_resume_is_refused(tmp_path, physics, monkeypatch):
    config = TrainConfig(loss="total", optimizer="lbfgs", steps=8)
    path, resume = interrupted_then_resumed(tmp_path, physics, config, monkeypatch, stop_at=4)
    with pytest.raises(IncompatibleRunError, match="resuming L-BFGS is not supported"):
        resume(path)
