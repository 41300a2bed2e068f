"""The lazy command group: every command listed without importing it, identical once it runs."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from pinnviz.cli import COMMANDS, PROBE_COMMANDS, app
from pinnviz.cli._lazy import load_command

runner = CliRunner()
HEAVY = ("torch", "matplotlib", "sklearn", "umap")


def _first_paragraph(text: str) -> str:
    return inspect.cleandoc(text).split("\n\n")[0].strip()


@pytest.mark.parametrize("table", [COMMANDS, PROBE_COMMANDS], ids=["top", "probe"])
def test_static_help_is_the_commands_own(table):
    for name, (target, help_line) in table.items():
        assert _first_paragraph(load_command(name, target).help) == help_line, name


def test_every_registered_probe_command_is_in_the_table():
    from pinnviz.cli.probe import probe_app

    for name, (target, _) in PROBE_COMMANDS.items():
        load_command(name, target)  # imports every probe module, which register on probe_app
    assert {c.name for c in probe_app.registered_commands} <= set(PROBE_COMMANDS)


@pytest.mark.parametrize("args", [["--help"], ["probe", "--help"], *[[n, "--help"] for n in COMMANDS],
                                  *[["probe", n, "--help"] for n in PROBE_COMMANDS]], ids=" ".join)
def test_every_command_has_help(args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_unknown_command_suggests_the_close_one():
    result = runner.invoke(app, ["trian"])
    assert result.exit_code == 2 and "Did you mean 'train'" in result.output


def _modules_after(args: list[str]) -> set[str]:
    code = ("import sys, json\nfrom pinnviz.cli import app\ntry:\n    app(" + repr(args) + ")\n"
            "except SystemExit:\n    pass\nprint(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_help_and_info_import_no_heavy_library(tmp_path):
    store = tmp_path / "run.zarr"
    trained = runner.invoke(app, ["train", "--out", str(store), "--steps", "3"])
    assert trained.exit_code == 0, trained.output
    for args in (["--help"], ["info", str(store)], ["info", str(store), "--json"]):
        assert not _modules_after(args) & set(HEAVY), args
