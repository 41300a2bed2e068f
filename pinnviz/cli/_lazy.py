"""A typer command group that imports a command's module only when that command runs.

`pinnviz --help` and `pinnviz info` must not pay for torch, matplotlib or scikit-learn. The group knows
each command's name and one-line help from a static table; `--help` of the group lists them from the
table, and only resolving a command (to run it or show its own `--help`) imports its module.
"""

from __future__ import annotations

import importlib
from difflib import get_close_matches

import typer
from typer.core import TyperGroup

# name -> ("package.module:attribute", one-line help). The attribute is a command function or a Typer app.
CommandTable = dict[str, tuple[str, str]]


class _Listed(typer.core.TyperCommand):
    """What the group's own help shows for a command that has not been imported."""


class LazyGroup(TyperGroup):
    """A TyperGroup whose commands come from `lazy_commands`, each imported when it is resolved."""

    lazy_commands: CommandTable = {}

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(self.lazy_commands) + [name for name in self.commands if name not in self.lazy_commands]

    def get_command(self, ctx: typer.Context, cmd_name: str):
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in self.lazy_commands:
            return _Listed(name=cmd_name, help=self.lazy_commands[cmd_name][1])
        return None

    def resolve_command(self, ctx: typer.Context, args: list[str]):
        try:
            name, command, rest = self._click_resolve_command(ctx, args)
        except typer.core._click.exceptions.UsageError as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if self.suggest_commands and matches:
                exc.message = exc.message.rstrip(".") + ". Did you mean " + ", ".join(map(repr, matches)) + "?"
            raise
        if isinstance(command, _Listed):
            command = self.commands[name] = load_command(name, self.lazy_commands[name][0])
        return name, command, rest


def load_command(name: str, target: str):
    """Import `package.module:attribute` and turn it into the click command typer would have built."""
    module, _, attribute = target.partition(":")
    obj = getattr(importlib.import_module(module), attribute)
    if isinstance(obj, typer.Typer):
        return typer.main.get_group(obj)
    single = typer.Typer(add_completion=False)
    single.command(name, context_settings=getattr(obj, "context_settings", None))(obj)
    return typer.main.get_command(single)


def lazy_group(commands: CommandTable) -> type[LazyGroup]:
    """A LazyGroup class for this table (pass it as `typer.Typer(cls=...)`)."""
    return type("PinnvizLazyGroup", (LazyGroup,), {"lazy_commands": commands})
