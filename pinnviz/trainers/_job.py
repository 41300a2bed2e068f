"""One training job from the train command's settings: the physics to build and the `TrainConfig` to run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pinnviz.errors import InvalidSettingError
from pinnviz.problems import PhysicsLosses, build_physics
from pinnviz.trainers._train import TrainConfig

# settings of the network (they go into the store's root, like the problem's)
MODEL_OPTIONS = ("width", "depth", "activation")
# train-command options that are problem settings (everything `--set KEY=VALUE` can name also is)
PROBLEM_OPTIONS = ("solution", "quadrature", "points")



def build_training(problem: str, problem_options: Mapping[str, Any] | None = None, *,
                   width: int | None = None, depth: int | None = None, activation: str = "tanh",
                   loss: str | None = None, **config: Any) -> tuple[PhysicsLosses, TrainConfig]:
    """The physics and the validated `TrainConfig` of one `pinnviz train` invocation.

    Parameters
    ----------
    problem : registered problem name
    problem_options : problem settings (``--set`` pairs, ``solution``, ``quadrature``, ``points``)
    width, depth, activation : the network (the problem's default architecture where None)
    loss : the objective (the problem's default where None)
    config : any other `TrainConfig` field (lr, steps, seed, optimizer, weights as a list, ...)

    Raises
    ------
    PinnvizError
        Any setting the train command would refuse, with the same message.
    """
    unknown = sorted(set(config) - set(TrainConfig.__dataclass_fields__))
    if unknown:
        raise InvalidSettingError(f"unknown training option {', '.join(unknown)}; valid: "
                                  f"{', '.join(sorted(TrainConfig.__dataclass_fields__))}")
    physics = build_physics(problem, dict(problem_options or {}), width=width, depth=depth, activation=activation)
    train_config = TrainConfig(loss=loss or physics.problem.default_loss, **config)
    train_config.validate(physics)
    return physics, train_config
