"""pinnviz: loss landscapes of physics-informed networks, with honest projection diagnostics.

The public surface, for scripts and notebooks (each name is imported on first use, so ``import pinnviz``
loads neither torch nor matplotlib):

- stores: `open_run` (a local folder or an fsspec URL), `create_run`, `Run`
- training: `build_physics`, `PhysicsLosses`, `train`, `TrainConfig`
- manifolds: `fit_manifold` (``save=False`` keeps it in memory), `load_manifold`, `save_manifold`, `MANIFOLDS`
- landscapes: `compute_landscape` (of a stored manifold or a `Manifold` object), `load_landscape`, `LandscapeData`
- figures: `landscape_figure`, `comparison_figure`, `save_figure`; the probes' figures (`mli_figure`,
  `random_planes_figure`, ...) and `probe_figure` (redraw stored probes by name); `load_probe`
- errors: `PinnvizError`

Example
-------
Train, fit a PCA plane that is never stored, and draw the landscape of it:

>>> import pathlib, tempfile
>>> import pinnviz
>>> path = pathlib.Path(tempfile.mkdtemp()) / "run.zarr"
>>> pinnviz.train(path, pinnviz.build_physics("poisson1d"), pinnviz.TrainConfig(loss="drm", steps=20))
['drm-adam-seed0']
>>> run = pinnviz.open_run(path)  # read-only: nothing below writes to the store
>>> pca, report = pinnviz.fit_manifold(run, "pca", save=False)
>>> report["points"]
21
>>> data = pinnviz.compute_landscape(run, pca, resolution=6, losses=["drm"])
>>> data.losses["drm"].shape
(6, 6)
>>> pinnviz.save_figure(pinnviz.landscape_figure(data, ["drm"]), path.parent / "pca.png").name
'pca.png'
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "pinnviz.store": ("Run", "create_run", "open_run"),
    "pinnviz.problems": ("PhysicsLosses", "build_physics"),
    "pinnviz.trainers": ("TrainConfig", "train"),
    "pinnviz.manifolds": ("MANIFOLDS", "Manifold", "fit_manifold", "load_manifold", "save_manifold"),
    "pinnviz.landscape": ("LandscapeData", "compute_landscape", "load_landscape"),
    "pinnviz.visualizer": ("comparison_figure", "landscape_figure", "save_figure"),
    "pinnviz.visualizer._probes_a": ("hessian_walk_figure", "mli_figure", "mode_connectivity_figure",
                                     "random_planes_figure", "spectrum_figure"),
    "pinnviz.visualizer._probes_b": ("acceleration_figure", "bad_minima_figure", "basis_figure",
                                     "goldilocks_figure", "intrinsic_dim_figure", "trajectory_pca_figure"),
    "pinnviz.visualizer._probe_figure": ("probe_figure",),
    "pinnviz.probes": ("load_probe",),
    "pinnviz.errors": ("PinnvizError",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["__version__", *sorted(_MODULE_OF)]


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'pinnviz' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
