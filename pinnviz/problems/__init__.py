"""PDE problems: domain, quadrature, exact solution, hard-BC distance and named batched losses."""

from __future__ import annotations

from pinnviz.errors import InvalidSettingError, unknown_name
from pinnviz.nets import MLP
from pinnviz.problems._evaluate import PhysicsLosses as PhysicsLosses
from pinnviz.problems.convection import Convection1D as Convection1D
from pinnviz.problems.convection import Reaction1D as Reaction1D
from pinnviz.problems.hyperelastic import Hyperelastic2D as Hyperelastic2D
from pinnviz.problems.poisson import SOLUTIONS as SOLUTIONS
from pinnviz.problems.poisson import Poisson1D as Poisson1D

PROBLEMS = {Poisson1D.name: Poisson1D, Hyperelastic2D.name: Hyperelastic2D}
PROBLEMS.update({Convection1D.name: Convection1D, Reaction1D.name: Reaction1D})


def problem_class(name: str):
    """The problem class registered as `name`."""
    if name not in PROBLEMS:
        raise unknown_name("problem", name, PROBLEMS)
    return PROBLEMS[name]


def problem_from_settings(settings: dict):
    """Rebuild a problem from the settings a store keeps."""
    return problem_class(settings.get("name", "")).from_settings(settings)


def build_problem(name: str, options: dict | None = None):
    """A problem from its registry name and options (checked against the class's `OPTIONS`)."""
    cls = problem_class(name)
    options = dict(options or {})
    unknown = sorted(set(options) - set(cls.OPTIONS))
    if unknown:
        raise InvalidSettingError(
            f"{name} has no setting {', '.join(unknown)}; valid: {', '.join(sorted(cls.OPTIONS))}"
        )
    return cls.from_settings({**cls.OPTIONS, **options, "name": name})


def build_physics(name: str, options: dict | None = None, *, width: int | None = None, depth: int | None = None,
                  activation: str = "tanh") -> PhysicsLosses:
    """Problem and network (the problem's default architecture unless width/depth are given)."""
    problem = build_problem(name, options)
    model = problem.default_model()
    net = MLP(problem.inputs, problem.outputs, model["width"] if width is None else width,
              model["depth"] if depth is None else depth, activation=activation, bc=model["bc"],
              output_bias=model["output_bias"])
    return PhysicsLosses(problem, net)


__all__ = ["PROBLEMS", "SOLUTIONS", "Hyperelastic2D", "PhysicsLosses", "Poisson1D", "build_physics", "build_problem",
           "problem_class", "problem_from_settings"]
__all__ += ["Convection1D", "Reaction1D"]
