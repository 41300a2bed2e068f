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

    def limit(self, value: float, side: str) -> complex:
        """lim u(x) as x -> value from `side` ("+" or "-"), exact (sin(pi x)/x -> pi at 0, not NaN)."""
        try:
            result = sympy.limit(self.expr, self.symbol, sympy.nsimplify(value), dir=side)
        except (NotImplementedError, ValueError, TypeError):  # sympy could not decide: fall back to the value
            result = self.expr.subs(self.symbol, value)
        result = complex(result.evalf()) if result.is_finite else complex(np.nan)
        return result

    def check_on(self, a: float, b: float, points: int = 2001) -> None:
        """Refuse a solution that is not real and finite, with finite u' and u'', everywhere inside (a, b)."""
        xs = np.linspace(a, b, points)[1:-1]
        for which, label in (("u", "u"), ("du", "u'"), ("d2u", "u''")):
            with np.errstate(all="ignore"):
                try:
                    values = self.numeric(which)(xs)
                except (TypeError, ValueError, ZeroDivisionError):  # complex or undefined values
                    values = np.full_like(xs, np.nan)
            bad = ~np.isfinite(values)
            if bad.any():
                raise InvalidSettingError(
                    f"solution {self.text!r}: {label} is not a finite real number at x={xs[bad][0]:.4g} "
                    f"inside [{a:g}, {b:g}]; give a smooth solution defined on the whole domain"
                )
