"""The loss-landscape analyses of Rowan et al. (2024), each a Python function storing in `probes/<name>/`."""

from pinnviz.probes._hessian import hessian_spectrum as hessian_spectrum
from pinnviz.probes._hessian import loss_gradient as loss_gradient
from pinnviz.probes._hessian import loss_hessian as loss_hessian
from pinnviz.probes._store import load_probe as load_probe
from pinnviz.probes._store import probe_names as probe_names
from pinnviz.probes._store import save_probe as save_probe

__all__ = ["hessian_spectrum", "load_probe", "loss_gradient", "loss_hessian", "probe_names", "save_probe"]
from pinnviz.probes._fast_hessian import fast_hessian as fast_hessian
from pinnviz.probes.hessian_plane import hessian_plane as hessian_plane
from pinnviz.probes.hessian_walk import hessian_walk as hessian_walk
from pinnviz.probes.mli import mli as mli
from pinnviz.probes.mode_connectivity import mode_connectivity as mode_connectivity
from pinnviz.probes.random_planes import random_planes as random_planes
from pinnviz.probes.spectrum import spectrum as spectrum

__all__ += ["fast_hessian", "hessian_plane", "hessian_walk", "mli", "mode_connectivity", "random_planes", "spectrum"]
from pinnviz.probes.acceleration import acceleration as acceleration  # noqa: E402
from pinnviz.probes.bad_minima import bad_minima as bad_minima  # noqa: E402
from pinnviz.probes.basis import basis as basis  # noqa: E402
from pinnviz.probes.goldilocks import goldilocks as goldilocks  # noqa: E402
from pinnviz.probes.intrinsic_dim import intrinsic_dim as intrinsic_dim  # noqa: E402
from pinnviz.probes.trajectory_pca import trajectory_pca as trajectory_pca  # noqa: E402

__all__ += ["acceleration", "bad_minima", "basis", "goldilocks", "intrinsic_dim", "trajectory_pca"]
from pinnviz.probes.ntk import ntk as ntk  # noqa: E402

__all__ += ["ntk"]
