"""What every problem shares: its loss names, the derivative order each needs, one validation place."""

from __future__ import annotations

from pinnviz.errors import unknown_name


class Problem:
    """Base of the PDE problems. Subclasses set `name`, `loss_names` and `_order` (loss -> x-derivative order)."""

    name: str = ""
    loss_names: tuple[str, ...] = ()
    _order: dict[str, int] = {}
    # losses read on points no training loss uses (a test grid): logged on every `diagnostics_every`-th row
    diagnostics: tuple[str, ...] = ()

    def check_loss(self, name: str) -> None:
        if name not in self._order:
            raise unknown_name(f"loss for {self.name}", name, self.loss_names)

    def losses_order(self, names) -> int:
        """Highest x-derivative order the named losses need."""
        for name in names:
            self.check_loss(name)
        return max(self._order[name] for name in names)
