"""Test error and final u(x, t) for beta = 1 and 30: python krishnapriyan_figure.py STORE_DIR OUT.png."""
import sys

import numpy as np
import torch
from matplotlib.figure import Figure

from pinnviz.store import open_run
from pinnviz.visualizer import save_figure

fig = Figure(figsize=(12, 3.6), dpi=100, layout="constrained")
ax_loss, ax_b1, ax_b30 = fig.subplots(1, 3)
for beta, ax_u in ((1, ax_b1), (30, ax_b30)):
    run = open_run(f"{sys.argv[1]}/krish_beta{beta}.zarr")
    traj = run.trajectory(f"beta{beta}")
    test = np.asarray(traj.losses["test"])
    shown = np.isfinite(test)  # the test grid is evaluated on every --diagnostics-every-th row only
    ax_loss.semilogy(np.asarray(traj.steps)[shown], test[shown], "o-", ms=3, label=f"beta={beta}: test (rel. L2)")
    ax_loss.semilogy(traj.steps, traj.losses["total"], "--", label=f"beta={beta}: total")
    physics = run.physics()
    p = physics.problem
    x = torch.as_tensor(p.point_sets()["test"])
    u = physics.net.fields(torch.as_tensor(traj.params[-1:]), x, 0).value[0, :, 0].reshape(p.nx, p.nt).numpy()
    im = ax_u.imshow(u.T, origin="lower", aspect="auto", extent=[0, 2 * np.pi, 0, 1], cmap="RdBu_r", vmin=-1, vmax=1)
    ax_u.set_title(f"PINN u(x, t), beta={beta}, test error {test[-1]:.3g}")
    ax_u.set_xlabel("x")
    ax_u.set_ylabel("t")
fig.colorbar(im, ax=[ax_b1, ax_b30])
ax_loss.set_xlabel("Adam step")
ax_loss.legend(fontsize=7)
ax_loss.set_title("convection, default net, Adam lr 1e-3")
save_figure(fig, sys.argv[2])
