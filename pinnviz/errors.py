"""One root for every error a user can cause; the CLI turns these into one line and exit code 2."""

from __future__ import annotations


class PinnvizError(Exception):
    """Root of every pinnviz error that a user's input can cause."""


class RunNotFoundError(PinnvizError, FileNotFoundError):
    """The store path does not exist."""


class NotARunError(PinnvizError, ValueError):
    """The path exists but is not a pinnviz store."""


class SchemaTooNewError(PinnvizError, ValueError):
    """The store was written by a newer pinnviz schema."""


class UnknownNameError(PinnvizError, KeyError):
    """A name (problem, loss, trajectory, method, ...) that is not registered or not present."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidSettingError(PinnvizError, ValueError):
    """A setting outside its allowed range."""


class IncompatibleRunError(PinnvizError, ValueError):
    """A trajectory or manifold that does not fit the store it is added to."""


class NonFiniteError(PinnvizError, ArithmeticError):
    """NaN or infinity where finite numbers are required."""


class NotFittedError(PinnvizError, RuntimeError):
    """A manifold used before `fit`."""


def unknown_name(kind: str, name: str, valid) -> UnknownNameError:
    """Build the standard 'unknown X' error that lists the valid names."""
    choices = ", ".join(sorted(valid)) or "(none)"
    return UnknownNameError(f"unknown {kind} {name!r}; valid: {choices}")


class AlreadyExistsError(PinnvizError, FileExistsError):
    """A result (trajectory, manifold, landscape, probe) of that name is stored; replacing it needs force."""


class StaleResultError(PinnvizError, ValueError):
    """A stored result computed from something that has changed since (a refitted manifold, a resumed trajectory)."""


class DamagedStoreError(PinnvizError, OSError):
    """A store whose files cannot be read back (a truncated or missing chunk, an unreadable attribute)."""


class StoreAccessError(PinnvizError, PermissionError):
    """A store or an output path that cannot be written (read-only, not a folder, ...)."""


def check_settings(*checks: tuple[str, object, bool, str]) -> None:
    """Raise InvalidSettingError for the first failed check (label, value, ok, rule), naming only that setting.

    >>> check_settings(("pairs", 9, 9 >= 1, ">= 1"), ("resolution", 1, 1 >= 2, ">= 2"))
    Traceback (most recent call last):
    ...
    pinnviz.errors.InvalidSettingError: resolution=1 must be >= 2
    """
    for label, value, ok, rule in checks:
        if not ok:
            raise InvalidSettingError(f"{label}={value} must be {rule}")
