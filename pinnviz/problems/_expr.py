"""Safe parsing of a 1-D solution expression such as "-2*x*sin(2*pi*x)" and its derivatives."""

from __future__ import annotations

import re

import numpy as np
import sympy

from pinnviz.errors import InvalidSettingError

_FUNCTIONS = ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh", "pi", "E", "x")
_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?)|([A-Za-z_]\w*)|(\*\*|[-+*/^(),]))")


def _check_tokens(text: str) -> None:
    """Only numbers, x, a few elementary functions and arithmetic: the string is never evaluated otherwise."""
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise InvalidSettingError(f"cannot parse solution {text!r} at position {pos}")
        name = match.group(2)
        if name is not None and name not in _FUNCTIONS:
            raise InvalidSettingError(
                f"solution {text!r} uses {name!r}; allowed names: {', '.join(_FUNCTIONS)}"
            )
        pos = match.end()


class Expression1D:
    """A scalar function of x given as text, with exact symbolic derivatives."""

    def __init__(self, text: str) -> None:
        _check_tokens(text)
        x = sympy.Symbol("x")
        allowed = {name: getattr(sympy, name) for name in _FUNCTIONS if name != "x"}
        allowed["x"] = x
        try:
            expr = sympy.sympify(text.replace("^", "**"), locals=allowed)
        except (sympy.SympifyError, SyntaxError, TypeError) as exc:
            raise InvalidSettingError(f"cannot parse solution {text!r}: {exc}") from None
        if expr.free_symbols - {x}:
            raise InvalidSettingError(f"solution {text!r} may depend on x only")
        self.text = text
        self.symbol = x
        self.expr = expr
        self.d1 = sympy.diff(expr, x)
        self.d2 = sympy.diff(expr, x, 2)

    def numeric(self, which: str = "u"):
        """A numpy function of x for u, du or d2u."""
        expr = {"u": self.expr, "du": self.d1, "d2u": self.d2}[which]
        fn = sympy.lambdify(self.symbol, expr, modules="numpy")
        return lambda xs: np.broadcast_to(np.asarray(fn(xs), dtype=np.float64), np.shape(xs)).copy()

    def at(self, value: float) -> float:
        return float(self.expr.subs(self.symbol, value).evalf())
