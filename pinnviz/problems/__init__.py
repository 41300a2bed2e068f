"""PDE problems: domain, quadrature, exact solution, hard-BC distance and named batched losses."""

from __future__ import annotations

from pinnviz.errors import unknown_name
from pinnviz.problems._evaluate import PhysicsLosses as PhysicsLosses
from pinnviz.problems.poisson import SOLUTIONS as SOLUTIONS
from pinnviz.problems.poisson import Poisson1D as Poisson1D

PROBLEMS = {Poisson1D.name: Poisson1D}


def problem_class(name: str):
    """The problem class registered as `name`."""
    if name not in PROBLEMS:
        raise unknown_name("problem", name, PROBLEMS)
    return PROBLEMS[name]


def problem_from_settings(settings: dict):
    """Rebuild a problem from the settings a store keeps."""
    return problem_class(settings.get("name", "")).from_settings(settings)


__all__ = ["PROBLEMS", "SOLUTIONS", "PhysicsLosses", "Poisson1D", "problem_class", "problem_from_settings"]
