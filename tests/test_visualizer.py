"""The visualizer and `pinnviz render`: figures are opened and their content checked."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.colors import LogNorm, SymLogNorm
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.image import imread
from typer.testing import CliRunner

from pinnviz.cli import app
from pinnviz.errors import InvalidSettingError, UnknownNameError
from pinnviz.landscape import LandscapeData, TrajectoryDiagnostics, save_landscape
from pinnviz.store import create_run
from pinnviz.visualizer import (
    colorbar_ticks,
    comparison_figure,
    landscape_axes,
    landscape_figure,
    loss_norm,
    save_figure,
    scale_kind,
)

R0, R1 = 41, 31  # different sizes so a transposed grid would fail
CENTER = np.array([0.3, -0.2])


def bowl(z0, z1):
    """A positive analytic loss spanning about four decades on the grid."""
    return 1e-3 + 10.0 * ((z0 - CENTER[0]) ** 2 + 2.0 * (z1 - CENTER[1]) ** 2)


def energy(z0, z1):
    """A Deep-Ritz-like energy: negative around its minimum, three decades of magnitude above it."""
    return 100.0 * bowl(z0, z1) - 5.0


def spiral(n: int, turns: float = 1.5, radius: float = 0.9) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)
    r = radius * np.exp(-3.0 * t)
    angle = 2 * np.pi * turns * t
    return np.stack([CENTER[0] + r * np.cos(angle), CENTER[1] + r * np.sin(angle)], axis=1)


def diagnostics(coords: np.ndarray, scale: float, seed: int) -> TrajectoryDiagnostics:
    rng = np.random.default_rng(seed)
    n = len(coords)
    steps = np.arange(n) * 10
    true = {"pinn": bowl(*coords.T) * scale, "drm": energy(*coords.T) * scale}
    proj_abs = 0.05 * np.exp(-np.linspace(0, 3, n)) * (1 + 0.2 * rng.random(n))
    at_proj = {k: v * (1 + 0.1 * rng.standard_normal(n)) for k, v in true.items()}
    rel = {k: np.abs(true[k] - at_proj[k]) / np.abs(true[k]) for k in true}
    rng_err = {k: np.abs(true[k] - at_proj[k]) / np.ptp(true[k]) for k in true}
    return TrajectoryDiagnostics(coords, steps, proj_abs, proj_abs / 3.0, true, at_proj, rel, rng_err)


def synthetic_landscape(name: str = "ae", *, notes: str | None = "grid decoded exactly", nan_corner: bool = True,
                        two_trajectories: bool = True) -> LandscapeData:
    """An analytic bowl on a grid with spiral trajectories whose true losses are the bowl's values."""
    axis_0 = np.linspace(-1.2, 1.2, R0)
    axis_1 = np.linspace(-1.2, 1.2, R1)
    z0, z1 = np.meshgrid(axis_0, axis_1)  # (R1, R0), the LandscapeData convention
    losses = {"pinn": bowl(z0, z1), "drm": energy(z0, z1)}
    if nan_corner:
        for grid in losses.values():
            grid[-3:, :3] = np.nan
    trajectories = {"pinn-0": diagnostics(spiral(60), 1.0, 0)}
    if two_trajectories:
        trajectories["drm-0"] = diagnostics(spiral(40, turns=1.0, radius=0.7)[:, ::-1] * [1, -1], 1.0, 1)
    points = np.concatenate([d.coords for d in trajectories.values()])
    grid_points = np.stack([z0.ravel(), z1.ravel()], axis=1)
    distance = np.sqrt(((grid_points[:, None, :] - points[None]) ** 2).sum(-1)).min(1).reshape(R1, R0)
    extrapolated = (np.abs(z0) > 1.0) | (np.abs(z1) > 1.0)
    attrs = {"manifold": name, "method": "autoencoder", "resolution": [R0, R1], "extent": [-1.2, 1.2, -1.2, 1.2],
             "losses": ["pinn", "drm"]}
    if notes:
        attrs["notes"] = notes
    return LandscapeData(name, axis_0, axis_1, losses, 3.0 * distance + 1e-4, extrapolated, trajectories, attrs)


@pytest.fixture(scope="module")
def data() -> LandscapeData:
    return synthetic_landscape()


def labelled(fig: Figure, prefix: str) -> list:
    return [ax for ax in fig.axes if ax.get_label().startswith(prefix)]


def contour_of(ax) -> ContourSet:
    (contour,) = [c for c in ax.collections if isinstance(c, ContourSet) and c.get_gid() and
                  c.get_gid().startswith("contour:")]
    return contour


def points_of(ax, trajectory: str) -> dict[str, PathCollection]:
    return {c.get_gid().split(":")[0]: c for c in ax.collections
            if isinstance(c, PathCollection) and c.get_gid() and c.get_gid().endswith(f":{trajectory}")}


# --- scales ------------------------------------------------------------------------------------


def test_loss_norm_is_log_for_positive_and_symlog_for_energies(data):
    assert isinstance(loss_norm(data.losses["pinn"]), LogNorm)
    norm = loss_norm(data.losses["drm"])
    assert isinstance(norm, SymLogNorm) and scale_kind(norm) == "symlog"
    finite = data.losses["drm"][np.isfinite(data.losses["drm"])]
    assert norm.vmin == pytest.approx(finite.min()) and norm.vmax == pytest.approx(finite.max())


def test_symlog_is_linear_over_a_narrow_range_and_logarithmic_over_decades():
    narrow = loss_norm(np.linspace(-13.4, 3.4, 50))  # an energy near its minimum
    assert isinstance(narrow, SymLogNorm) and scale_kind(narrow) == "linear"
    np.testing.assert_allclose(narrow([-13.4, -5.0, 3.4]), [0.0, 8.4 / 16.8, 1.0], atol=1e-12)
    wide = loss_norm(np.concatenate([np.linspace(-0.5, 0.5, 5), np.geomspace(1, 1e4, 50)]))
    assert scale_kind(wide) == "symlog" and wide.linthresh == 1.0
    ticks, labels = colorbar_ticks(wide)
    assert list(ticks) == [0.0, 1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert labels == ["0", "1", "10", "100", "$10^{3}$", "$10^{4}$"]
    deep = loss_norm(np.array([-40.0, 2e3]))  # linear over +-100, the minimum labelled
    assert deep.linthresh == 100.0 and scale_kind(deep) == "symlog"
    assert colorbar_ticks(deep)[1] == ["-40", "0", "100", "$10^{3}$"]


def test_loss_norm_covers_trajectory_values_outside_the_grid():
    norm = loss_norm(np.array([[1.0, 2.0]]), np.array([0.01, 50.0]))
    assert (norm.vmin, norm.vmax) == (0.01, 50.0)


# --- the landscape panel -----------------------------------------------------------------------


@pytest.mark.parametrize(("loss", "norm_type"), [("pinn", LogNorm), ("drm", SymLogNorm)])
def test_landscape_axes_draws_contour_and_trajectory_on_one_scale(data, loss, norm_type):
    fig = Figure()
    ax = fig.add_subplot()
    mappable = landscape_axes(ax, data, loss)
    contour = contour_of(ax)
    assert mappable is contour
    assert isinstance(contour.norm, norm_type)
    for name, diag in data.trajectories.items():
        (line,) = [ln for ln in ax.lines if ln.get_gid() == f"trajectory-line:{name}"]
        np.testing.assert_allclose(np.column_stack(line.get_data()), diag.coords, rtol=0, atol=0)
        parts = points_of(ax, name)
        assert set(parts) == {"trajectory-points", "trajectory-start", "trajectory-end"}
        inner = parts["trajectory-points"]
        np.testing.assert_allclose(inner.get_offsets(), diag.coords[1:-1])
        np.testing.assert_allclose(parts["trajectory-start"].get_offsets(), diag.coords[:1])
        np.testing.assert_allclose(parts["trajectory-end"].get_offsets(), diag.coords[-1:])
        # coloured by the *true* loss with the contour's own norm and colormap
        for part in parts.values():
            assert part.norm is contour.norm and part.cmap is contour.cmap
        np.testing.assert_allclose(inner.get_array(), diag.true_loss[loss][1:-1])
        FigureCanvasAgg(fig).draw()
        expected = contour.cmap(contour.norm(diag.true_loss[loss][1:-1]))
        np.testing.assert_allclose(inner.get_facecolors(), expected, atol=1e-12)
    labels = ax.get_legend().get_texts()
    assert {"start", "end", "extrapolated", "not evaluable", *data.trajectories} <= {t.get_text() for t in labels}


def test_landscape_axes_masks_nan_cells_and_hatches_the_extrapolated_region(data):
    fig = Figure(figsize=(4, 4), dpi=100)
    ax = fig.add_subplot()
    landscape_axes(ax, data, "pinn", legend=False)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., :3] / 255.0
    height = pixels.shape[0]

    def patch_at(z0, z1):
        x, y = ax.transData.transform((z0, z1))
        row, col = int(round(height - y)), int(round(x))
        return pixels[row - 2:row + 3, col - 2:col + 3].reshape(-1, 3)

    nan_cell = patch_at(data.axis_0[0] + 0.03, data.axis_1[-1] - 0.03)  # a NaN cell: grey and white hatch
    assert np.all(np.ptp(nan_cell, axis=1) < 0.05), nan_cell
    inside = patch_at(-0.6, 0.8)  # a finite cell away from the trajectories: a viridis (chromatic) colour
    assert np.all(np.ptp(inside, axis=1) > 0.2), inside
    hatched = [c for c in ax.collections if isinstance(c, ContourSet) and c.hatches and c.hatches[0]]
    assert len(hatched) == 1 and hatched[0].hatches == ["///"]


def test_landscape_axes_rejects_unknown_names(data):
    ax = Figure().add_subplot()
    with pytest.raises(UnknownNameError, match="unknown loss 'nope'; valid: drm, pinn"):
        landscape_axes(ax, data, "nope")
    with pytest.raises(UnknownNameError, match="unknown trajectory 'x'; valid: drm-0, pinn-0"):
        landscape_axes(ax, data, "pinn", trajectories=["x"])


# --- whole figures and export -------------------------------------------------------------------


def test_landscape_figure_panels(data):
    fig = landscape_figure(data)
    assert [ax.get_label() for ax in labelled(fig, "landscape:")] == ["landscape:pinn", "landscape:drm"]
    assert len(labelled(fig, "loss-error:")) == 2
    assert len(labelled(fig, "data-distance")) == 1 and len(labelled(fig, "projection-error")) == 1
    assert len(labelled(fig, "<colorbar>")) == 3  # two losses and the distance map
    assert len(fig.axes) == 2 * 2 + 2 + 3
    assert "e_proj" in fig.get_suptitle() and "e_relative" in fig.get_suptitle()
    assert "grid decoded exactly" in fig.get_supxlabel()
    error_ax = labelled(fig, "projection-error")[0]
    assert error_ax.get_yscale() == "log"
    legend = " ".join(t.get_text() for t in error_ax.get_legend().get_texts())
    mean = np.mean(data.trajectories["pinn-0"].relative_projection_error)
    assert f"mean {mean:.2g}" in legend


def test_landscape_figure_options(data):
    fig = landscape_figure(data, ["drm"], surface=True, diagnostics=False)
    assert sorted(ax.get_label() for ax in fig.axes) == ["<colorbar>", "landscape:drm", "surface:drm"]
    assert fig.get_supxlabel() == "grid decoded exactly".join(["Note: ", ""])
    with pytest.raises(UnknownNameError, match="'energy'"):
        landscape_figure(data, ["energy"])
    with pytest.raises(InvalidSettingError, match="dpi=0 must be > 0"):
        landscape_figure(data, dpi=0)
    with pytest.raises(InvalidSettingError, match="megapixels"):
        landscape_figure(data, size=(100, 100), dpi=300)
    with pytest.raises(InvalidSettingError, match=r"too small for 2 x 3 panels; give at least \(4, 5.4\)"):
        landscape_figure(data, size=(3, None))


def test_saved_png_has_the_requested_size_and_content(data, tmp_path):
    fig = landscape_figure(data, ["pinn"], size=(8.0, 6.0), dpi=50)
    path = save_figure(fig, tmp_path / "sub" / "landscape.png")
    image = imread(path)
    assert image.shape[:2] == (300, 400)  # height x width = size * dpi
    assert float(image[..., :3].std()) > 0.05  # not blank
    # the viridis colours of the contour panel are in the picture
    rgb = image[..., :3].reshape(-1, 3)
    assert np.sum((rgb[:, 2] > 0.3) & (rgb[:, 1] > 0.5) & (rgb[:, 0] < 0.3)) > 500


def test_svg_and_pdf_export(data, tmp_path):
    fig = landscape_figure(data, ["pinn"], diagnostics=False, dpi=40)
    svg = save_figure(fig, tmp_path / "a.SVG")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    pdf = save_figure(fig, tmp_path / "a.pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    with pytest.raises(InvalidSettingError, match=r"suffix must be one of \.png, \.svg, \.pdf"):
        save_figure(fig, tmp_path / "a.jpg")


def test_comparison_figure(data, tmp_path):
    other = synthetic_landscape("pca", notes=None, nan_corner=False, two_trajectories=False)
    fig = comparison_figure({"autoencoder": data, "pca": other}, ["pinn", "drm"], dpi=40)
    panels = labelled(fig, "compare:")
    assert [ax.get_label() for ax in panels] == ["compare:autoencoder:pinn", "compare:autoencoder:drm",
                                                 "compare:pca:pinn", "compare:pca:drm"]
    assert len(labelled(fig, "<colorbar>")) == 4
    for ax in panels:
        assert "e_proj" in ax.get_title() and "e_relative" in ax.get_title()
    assert isinstance(contour_of(panels[1]).norm, SymLogNorm)
    assert "grid decoded exactly" in panels[1].get_xlabel()
    image = imread(save_figure(fig, tmp_path / "compare.png"))
    assert image.shape[:2] == (round(fig.get_figheight() * 40), round(fig.get_figwidth() * 40))
    assert float(image[..., :3].std()) > 0.05
    shared = comparison_figure({"a": data, "b": other}, ["pinn"], shared_scale=True, dpi=40)
    norms = [contour_of(ax).norm for ax in labelled(shared, "compare:")]
    assert norms[0] is norms[1]
    with pytest.raises(UnknownNameError, match="'nope'"):
        comparison_figure({"a": data}, ["nope"])


# --- the render command -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("render") / "run.zarr"
    run = create_run(path, {"name": "synthetic"}, {"width": 1})
    save_landscape(run.group, data)
    return path


def test_render_writes_a_png_beside_the_store(store):
    result = CliRunner().invoke(app, ["render", str(store), "--landscape", "ae", "--loss", "pinn",
                                      "--no-diagnostics", "--dpi", "30", "--width", "6", "--height", "4"])
    assert result.exit_code == 0, result.output
    path = store.parent / "run-ae.png"
    assert result.stdout.strip() == str(path)
    image = imread(path)
    assert image.shape[:2] == (120, 180) and float(image[..., :3].std()) > 0.05


def test_render_svg_with_surface(store, tmp_path):
    target = tmp_path / "out" / "landscape.svg"
    result = CliRunner().invoke(app, ["render", str(store), "--landscape", "ae", "-o", str(target), "--surface",
                                      "--dpi", "30"])
    assert result.exit_code == 0, result.output
    assert ET.parse(target).getroot().tag.endswith("svg")


@pytest.mark.parametrize(("args", "message"), [
    (["--landscape", "nope"], "'nope'; valid: ae"),
    (["--landscape", "ae", "--loss", "pinn,nope"], "'nope'"),
    (["--landscape", "ae", "-o", "x.gif"], "suffix must be one of"),
    (["--landscape", "ae", "--dpi", "0"], "--dpi 0.0 must be a finite number > 0"),
    (["--landscape", "ae", "--width", "1"], "too small"),
])
def test_render_errors_are_one_line(store, tmp_path, args, message):
    result = CliRunner().invoke(app, ["render", str(store), *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_render_missing_store(tmp_path):
    result = CliRunner().invoke(app, ["render", str(tmp_path / "none.zarr"), "--landscape", "ae"])
    assert result.exit_code == 2 and "no store at" in result.stderr


def test_degenerate_landscapes_render_without_warnings(tmp_path):
    """All-NaN and constant grids, no or one-point trajectories, zero and NaN errors: still a figure."""
    base = synthetic_landscape(notes=None, two_trajectories=False)
    diag = base.trajectories["pinn-0"]
    one = TrajectoryDiagnostics(diag.coords[:1], diag.steps[:1], np.zeros(1), np.zeros(1),
                                {"pinn": np.array([2.0])}, {"pinn": np.array([2.0])},
                                {"pinn": np.array([np.nan])}, {"pinn": np.array([0.0])})
    losses = {"pinn": np.full_like(base.losses["pinn"], 3.0), "nan": np.full_like(base.losses["pinn"], np.nan)}
    data = LandscapeData("odd", base.axis_0, base.axis_1, losses, np.zeros_like(base.data_distance),
                         np.zeros_like(base.extrapolated), {"one": one}, {})
    fig = landscape_figure(data, surface=True, dpi=30)
    assert len(labelled(fig, "landscape:")) == 2
    assert float(imread(save_figure(fig, tmp_path / "odd.png"))[..., :3].std()) > 0.01
    empty = LandscapeData("empty", base.axis_0, base.axis_1, {"pinn": base.losses["pinn"]}, base.data_distance,
                          base.extrapolated, {}, {})
    save_figure(landscape_figure(empty, dpi=30), tmp_path / "empty.png")
