"""docs/reproduction.md and docs/scripts/check_reproduction.py agree on the checked numbers (fast: no training)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checker():
    spec = importlib.util.spec_from_file_location("check_reproduction", ROOT / "docs/scripts/check_reproduction.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_page_table_and_script_keys_agree(checker):
    table = checker.read_table(ROOT / "docs/reproduction.md")
    assert set(table) == set(checker.CHECKS)
    for key, (value, tolerance) in table.items():
        number = checker.number(value)
        assert checker.within(number, number, tolerance), key  # every tolerance text parses


def test_tolerance_forms(checker):
    assert checker.within(11, 10, "±10%") and not checker.within(11.5, 10, "±10%")
    assert checker.within(-13.66, -13.662, "±0.01") and not checker.within(-13.6, -13.662, "±0.01")
    assert checker.within(3e-5, 1e-5, "x3") and not checker.within(4e-5, 1e-5, "x3")
    assert not checker.within(-1e-5, 1e-5, "x3")
    assert checker.within(14, 14, "exact") and not checker.within(13, 14, "exact")
    assert checker.number("**3.9e-5**") == 3.9e-5 and checker.number("-13.66") == -13.66


def test_bowls_counts_rising_planes(checker):
    import numpy as np

    axis = np.linspace(-1, 1, 7)
    a, b = np.meshgrid(axis, axis)
    bowl, saddle = a**2 + b**2, a**2 - b**2
    assert checker.bowls(np.stack([bowl, saddle, bowl + 0.5 * a])) == 1
