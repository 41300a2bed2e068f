"""The trainer's own Adam and SGD against torch.optim's, bit for bit, on a (K, P) parameter."""

from __future__ import annotations

import pytest
import torch

from pinnviz.trainers._optim import FlatAdam, FlatSGD, load_optimizer_rows, optimizer_rows


def objective(p: torch.Tensor) -> torch.Tensor:
    return (torch.sin(3 * p) ** 2 + p**4).sum()


@pytest.mark.parametrize("ours,theirs", [(FlatAdam, torch.optim.Adam), (FlatSGD, torch.optim.SGD)])
def test_same_bits_as_torch_optim(ours, theirs):
    start = torch.randn(3, 50, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a, b = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    mine, reference = ours(a, 1e-2), theirs([b], lr=1e-2)
    for _ in range(300):
        for param, optimizer in ((a, mine), (b, reference)):
            optimizer.zero_grad(set_to_none=True)
            objective(param).backward()
            optimizer.step()
    assert torch.equal(a, b)
    for key, value in reference.state[b].items():
        assert torch.equal(mine.state[a][key], value) and mine.state[a][key].dtype == value.dtype, key


def test_state_rows_round_trip_continues_identically():
    """Stopping after 40 steps, restoring each row's state into a new optimizer and going on equals not stopping."""
    start = torch.randn(2, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    a = torch.nn.Parameter(start.clone())
    straight = FlatAdam(a, 1e-2)
    b = torch.nn.Parameter(start.clone())
    first = FlatAdam(b, 1e-2)
    for step in range(80):
        for param, optimizer in ((a, straight), (b, first)):
            optimizer.zero_grad()
            objective(param).backward()
            optimizer.step()
        if step == 39:
            rows = optimizer_rows(first, b)
            b = torch.nn.Parameter(b.detach().clone())
            first = FlatAdam(b, 1e-2)
            load_optimizer_rows(first, b, rows)
    assert torch.equal(a, b)
