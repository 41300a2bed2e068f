"""Optimisation loops that write whole trajectories to a store."""

from pinnviz.trainers._job import build_training as build_training
from pinnviz.trainers._optim import OPTIMIZERS as OPTIMIZERS
from pinnviz.trainers._train import DTYPES as DTYPES
from pinnviz.trainers._train import TrainConfig as TrainConfig
from pinnviz.trainers._train import resume as resume
from pinnviz.trainers._train import train as train

__all__ = ["DTYPES", "OPTIMIZERS", "TrainConfig", "build_training", "resume", "train"]
