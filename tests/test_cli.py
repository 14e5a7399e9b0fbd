"""The CLI contract: every command has help with examples and is in the README; errors map to exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from anticipate.cli import main
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_COMMANDS = ["sample", "ingest", "features", "train", "evaluate", "predict", "forecast", "solve",
                     "allocate", "backtest", "promote", "runs", "experiment", "ui"]


def _leaf_commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            out.update(_leaf_commands(cmd, full + " "))
        else:
            out[full] = cmd
    return out


def test_every_command_has_help_with_examples() -> None:
    commands = _leaf_commands(main)
    assert commands, "no commands registered"
    for name, cmd in commands.items():
        text = cmd.help or ""
        assert "Examples:" in text, f"'{name}' help has no Examples: block"
        assert f"anticipate {name}" in text, f"'{name}' examples do not show 'anticipate {name}'"


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in _leaf_commands(main):
        found = re.search(rf"anticipate {re.escape(name)}\b", readme)
        assert found, f"README never shows 'anticipate {name}'"


def test_registered_commands_are_the_contract_surface() -> None:
    registered = set(main.commands)
    unknown = registered - set(CONTRACT_COMMANDS)
    assert not unknown, f"commands outside CONTRACTS section 7: {unknown}"


@pytest.mark.parametrize("name", sorted(_leaf_commands(main)))
def test_help_runs(name: str) -> None:
    result = CliRunner().invoke(main, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "--json" in result.output


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("tim:\n  horizon_days: 7\n")
    result = CliRunner().invoke(main, ["ingest", "--orders", "x.csv", "--out", str(tmp_path / "o"),
                                       "--config", str(cfg)])
    assert result.exit_code == 2
    assert "unknown key 'tim'" in result.output


def test_json_error_is_one_object_on_stdout(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("tim: 1\n")
    result = CliRunner().invoke(main, ["--json", "ingest", "--orders", "x.csv", "--out", str(tmp_path / "o"),
                                       "--config", str(cfg)])
    assert result.exit_code == 2
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["status"] == "error"
    assert payload["exit_code"] == 2


def test_json_stdout_holds_one_object_even_when_c_code_prints(tmp_path: Path) -> None:
    """HiGHS prints its banner from C on descriptor 1; with --json it must land on stderr."""
    from anticipate.allocation import generate_instance

    inst = generate_instance(3, 20, seed=0)
    (tmp_path / "inst").mkdir()
    for name in ("warehouses", "skus", "cells"):
        getattr(inst, name).to_csv(tmp_path / "inst" / f"{name}.csv", index=False)
    done = run_cli("--json", "solve", "--instance", "inst", "--out", "plan", "--lp-bound", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["command"] == "solve", done.stdout[:300]
