"""Named layout of a flat parameter vector: which slice holds which tensor."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ParamEntry:
    """One tensor inside the flat vector: its name, shape (PyTorch's [out, in] for weights) and offset."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "offset": self.offset}


class ParamLayout:
    """Ordered list of named tensors packed into one flat vector.

    Example
    -------
    >>> layout = ParamLayout([("w", (2, 3)), ("b", (2,))])
    >>> layout.size
    8
    >>> layout.view(torch.arange(8.0)[None], "b").tolist()
    [[6.0, 7.0]]
    """

    def __init__(self, named_shapes: list[tuple[str, tuple[int, ...]]]) -> None:
        entries, offset = [], 0
        for name, shape in named_shapes:
            entry = ParamEntry(name, tuple(int(s) for s in shape), offset)
            entries.append(entry)
            offset += entry.size
        self.entries: tuple[ParamEntry, ...] = tuple(entries)
        self.size: int = offset
        self._by_name = {e.name: e for e in self.entries}

    def view(self, theta: torch.Tensor, name: str) -> torch.Tensor:
        """The tensor `name` of each vector in `theta` (n_vectors, n_params): shape (n_vectors, *shape)."""
        entry = self._by_name[name]
        flat = theta[:, entry.offset : entry.offset + entry.size]
        return flat.reshape(theta.shape[0], *entry.shape)

    def split(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every tensor of each vector in `theta` (n_vectors, n_params), as `view` gives them, from one split:
        under autograd that is one backward node instead of one full-size zero-filled gradient per tensor."""
        parts = torch.split(theta, [e.size for e in self.entries], dim=1)
        return {e.name: part.reshape(theta.shape[0], *e.shape) for e, part in zip(self.entries, parts, strict=True)}

    def to_list(self) -> list[dict]:
        return [e.to_dict() for e in self.entries]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamLayout) and self.entries == other.entries

    def __repr__(self) -> str:
        return f"ParamLayout({len(self.entries)} tensors, {self.size} parameters)"
