"""The `pinnviz` command line: thin typer commands over the library.

Adding a command is one line in COMMANDS (or PROBE_COMMANDS for `pinnviz probe NAME`): its name, the
`module:function` (or `module:typer_app`) that implements it, and the one-line help `pinnviz --help`
shows without importing the module. tests/test_cli_lazy.py checks that line against the docstring.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pinnviz.cli._lazy import CommandTable, lazy_group

COMMANDS: CommandTable = {
    "train": ("pinnviz.cli.train:train_command",
              "Train a physics-informed network and log every parameter vector to a Zarr store."),
    "info": ("pinnviz.cli.info:info_command",
             "Show the problem, the model and every trajectory, manifold, landscape and probe of a store."),
    "fit-manifold": ("pinnviz.cli.fit_manifold:fit_manifold_command",
                     "Fit a 2-D manifold on trajectories of a store and save it under manifolds/NAME."),
    "render": ("pinnviz.cli.render:render_command",
               "Draw a stored landscape: contours with the trajectories coloured by their true loss, and how far\n"
               "to trust the picture (projection and loss errors along each trajectory, distance to the data)."),
    "landscape": ("pinnviz.cli.landscape:landscape_command",
                  "Decode a latent grid of a fitted manifold, evaluate the losses there, store it with diagnostics."),
    "compare": ("pinnviz.cli.landscape:compare_command",
                "Fit what is missing, evaluate every method on one grid, write one figure and a metrics table."),
    "demo": ("pinnviz.cli.landscape:demo_command",
             "The whole story on the default Poisson problem: train drm and pinn, fit every method, render, "
             "tabulate."),
    "serve": ("pinnviz.cli.serve:serve_command",
              "Browse the stores under ROOT in a browser: runs, landscapes, comparisons, probes, jobs."),
    "rm": ("pinnviz.cli.manage:rm_command", "Remove a trajectory, manifold, landscape or probe; refused while "
           "others depend on it, unless --force."),
    "mv": ("pinnviz.cli.manage:mv_command", "Rename a trajectory, manifold, landscape or probe; landscapes and "
           "probes follow a renamed source."),
    "probe": ("pinnviz.cli.probe:probe_app", "The paper's loss-landscape analyses (Rowan et al. 2024, section 2)."),
    "sweep": ("pinnviz.cli.sweep:sweep_command", "Train every configuration of a grid, one task each, on a "
              "LocalCluster or an existing Dask cluster."),
    "sweep-report": ("pinnviz.cli.sweep:sweep_report_command", "Heat map of the mean over seeds of one final value, "
                     "over two swept settings."),
}

PROBE_COMMANDS: CommandTable = {
    "ntk": ("pinnviz.cli.probe_ntk:ntk_command",
            "NTK blocks K_uu, K_rr at logged steps: traces, eigenvalues, Delta K(t) (stored in probes/ntk-NAME)."),
    "mli": ("pinnviz.cli.probes_a:mli_command", "Monotonic linear interpolation (section 2.1): loss from initial "
            "to final parameters, per trajectory."),
    "hessian-walk": ("pinnviz.cli.probes_a:hessian_walk_command", "Hessian walk (section 2.2): steps along the "
                     "smallest-|eigenvalue| eigenvector from the final point."),
    "mode-connectivity": ("pinnviz.cli.probes_a:mode_connectivity_command", "Mode connectivity (section 2.3): "
                          "straight and quadratic Bezier paths between two solutions."),
    "random-planes": ("pinnviz.cli.probes_a:random_planes_command", "Random planes (sections 2.4, 2.5): the loss "
                      "on planes of filter-normalised random directions."),
    "spectrum": ("pinnviz.cli.probes_a:spectrum_command", "Hessian spectrum (section 2.6) at stored rows of a "
                 "trajectory."),
    "hessian-plane": ("pinnviz.cli.probes_a:hessian_plane_command", "The plane of the two largest-eigenvalue "
                      "Hessian eigenvectors at a point, stored as a manifold."),
    "basis": ("pinnviz.cli.probes_b:basis_command", "Learned basis functions, the rank of their Gram matrix and "
              "the null-direction \"trench\" (paper 2.6)."),
    "trajectory-pca": ("pinnviz.cli.probes_b:trajectory_pca_command", "Explained variance of the trajectory's "
                       "principal components; contours on planes (1,2), (1,3), (2,3) (2.9)."),
    "acceleration": ("pinnviz.cli.probes_b:acceleration_command", "|theta''| and |theta''| / |theta'|^2 along "
                     "trajectories, by finite differences (paper 2.10, eq. 6)."),
    "goldilocks": ("pinnviz.cli.probes_b:goldilocks_command", "Adam confined to hyperspheres of given radii, and "
                   "free parameter norms from scaled inits (paper 2.7)."),
    "intrinsic-dim": ("pinnviz.cli.probes_b:intrinsic_dim_command", "Training in random affine subspaces theta_0 "
                      "+ A w of given dimensions, against full training (2.8)."),
    "bad-minima": ("pinnviz.cli.probes_b:bad_minima_command", "Adam and plain gradient descent, several widths, "
                   "many runs each: loss curves (paper 2.11)."),
    "hessian-landscape": ("pinnviz.cli.probe_topology:hessian_landscape_command", "A d-dimensional landscape "
                          "along the top-d Hessian eigenvectors at a trajectory point (probes/NAME)."),
    "topology": ("pinnviz.cli.probe_topology:topology_command", "Merge tree of a landscape's sublevel sets: "
                 "minima, saddles, basins, persistence, the landscape profile."),
}

app = typer.Typer(
    name="pinnviz",
    cls=lazy_group(COMMANDS),
    help="Loss landscapes of physics-informed networks, with honest projection diagnostics.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
)


def _print_version(value: bool) -> None:
    if value:
        from pinnviz import __version__

        typer.echo(f"pinnviz {__version__}")
        raise typer.Exit()


@app.callback()
def global_options(
    threads: Annotated[int | None, typer.Option(
        help="CPU threads for torch (default: torch's). On a busy machine 1 can be faster than 2.")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the pinnviz version and exit.")] = False,
) -> None:
    """Loss landscapes of physics-informed networks, with honest projection diagnostics."""
    if threads is not None:
        if threads < 1:
            from pinnviz.cli._common import EXIT_USAGE, print_error

            print_error(f"threads={threads} must be >= 1 (--threads)")
            raise typer.Exit(EXIT_USAGE)
        import torch

        torch.set_num_threads(threads)


def main() -> None:
    from pinnviz._malloc import keep_freed_memory

    keep_freed_memory()  # chunked loss evaluation reuses freed memory instead of faulting in fresh pages
    app()


__all__ = ["COMMANDS", "PROBE_COMMANDS", "app", "main"]
