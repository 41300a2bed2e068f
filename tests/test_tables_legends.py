"""Readable output: legends never hide a start or end marker; `info` fits 80 and 120 columns; metrics.md."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from test_visualizer import diagnostics, synthetic_landscape

from pinnviz.visualizer import comparison_figure, landscape_figure


def _corner_landscape(corner: tuple[float, float]):
    """A landscape whose only trajectory ends in a corner of the grid (where a fixed legend would sit)."""
    data = synthetic_landscape("pca", notes=None, nan_corner=True, two_trajectories=False)
    t = np.linspace(0.0, 1.0, 50)[:, None]
    coords = (1 - t) * np.array([0.0, 0.0]) + t * np.array(corner)  # a straight path into the corner
    data.trajectories = {"pinn-0": diagnostics(coords, 1.0, 0)}
    return data


def _covered_markers(fig) -> list[str]:
    """Start/end markers (display positions, from the drawn figure) that lie under a legend's box."""
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    covered = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent(renderer)
        for artist in ax.collections:
            gid = str(artist.get_gid() or "")
            if gid.startswith(("trajectory-start:", "trajectory-end:")):
                for x, y in artist.get_offset_transform().transform(artist.get_offsets()):
                    if box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1:
                        covered.append(f"{ax.get_label()} {gid}")
    return covered


def test_legend_never_covers_start_or_end():
    """Trajectories ending in the upper right (the old fixed legend's place) and in the upper left."""
    upper_right, upper_left = _corner_landscape((1.15, 1.15)), _corner_landscape((-1.15, 1.15))
    fig = landscape_figure(upper_right, ["pinn", "drm"], dpi=50)
    assert _covered_markers(fig) == []
    fig = comparison_figure({"pca": upper_right, "kpca": upper_left}, ["pinn"], dpi=50)
    assert sum(ax.get_legend() is not None for ax in fig.axes) == 2
    assert _covered_markers(fig) == []


def test_the_old_fixed_legend_would_have_covered_the_marker():
    """The check above can fail: a legend forced to the upper right covers an end marker there."""
    data = _corner_landscape((1.15, 1.15))
    fig = landscape_figure(data, ["pinn"], diagnostics=False, dpi=50)
    ax = next(a for a in fig.axes if a.get_legend() is not None)
    handles = ax.get_legend().legend_handles
    ax.legend(handles=handles, loc="upper right", fontsize="x-small")
    assert _covered_markers(fig) != []


# --- info at 80 and 120 columns ------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds_store(tmp_path_factory):
    """Three seeds of one drm run (names differing only in their last character) and a pinn run."""
    from pinnviz.nets import MLP
    from pinnviz.problems import PhysicsLosses, Poisson1D
    from pinnviz.trainers import TrainConfig, train

    path = tmp_path_factory.mktemp("info") / "run.zarr"
    physics = PhysicsLosses(Poisson1D(), MLP(1, 1, 20, 2))
    train(path, physics, TrainConfig(loss="drm", steps=3, seeds=3))
    train(path, physics, TrainConfig(loss="pinn", steps=2))
    return path


@pytest.mark.parametrize("columns", [80, 120])
def test_info_fits_the_terminal_and_keeps_names_whole(seeds_store, columns):
    from typer.testing import CliRunner

    from pinnviz.cli import app

    result = CliRunner().invoke(app, ["info", str(seeds_store)], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns, "\n".join(lines)
    table = [line for line in lines if line.startswith("│")]
    names = [line.split("│")[1].strip() for line in table]
    assert names == [f"drm-adam-seed{k}" for k in range(3)] + ["pinn-adam-seed0"]
    assert all("│ complete " in line for line in table)
    assert "…" not in result.stdout and "..." not in result.stdout
    if columns == 80:
        assert "hidden at 80 columns:" in result.stdout
    else:
        assert "hidden" not in result.stdout and "optimizer" in result.stdout


# --- metrics.md ----------------------------------------------------------------------------------


def test_metrics_markdown_is_one_table_with_grouped_columns(tmp_path):
    from pinnviz.workflows.compare import write_metrics

    pinn = {"method": "pca", "manifold": "pca", "trajectory": "pinn-0", "points": 10, "e_proj_mean": 0.5,
            "e_proj_median": 0.25, "abs_proj_mean": 1.0, "e_relative_pinn_mean": 0.125,
            "e_relative_pinn_median": 0.0625, "e_range_pinn_mean": 2.0, "grid": "100x100", "notes": "a|b"}
    drm = {**{k: v for k, v in pinn.items() if "pinn" not in k}, "trajectory": "drm-0",
           "e_relative_drm_mean": 3.0, "e_relative_drm_median": 4.0, "e_range_drm_mean": 5.0, "notes": ""}
    md, csv_path, _ = write_metrics([pinn, drm], tmp_path / "metrics")
    lines = md.read_text().splitlines()
    split = [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]
    header = split[0]
    assert header[-2:] == ["grid", "notes"]
    assert header.index("e_range_pinn_mean") < header.index("e_relative_drm_mean")
    assert all(len(row) == len(header) for row in split), lines
    assert len({len(line) for line in lines}) == 1  # padded: the columns line up as plain text
    assert set(split[1]) == {"-" * len(c) for c in split[1]}
    drm_row = dict(zip(header, split[3], strict=True))
    assert drm_row["e_relative_drm_mean"] == "3" and drm_row["e_relative_pinn_mean"] == ""
    assert dict(zip(header, split[2], strict=True))["notes"] == "a\\|b"
    assert csv_path.read_text().splitlines()[0].split(",") == header
