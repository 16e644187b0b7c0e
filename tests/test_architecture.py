"""The architecture holds: layers import downwards only, dependencies are declared, modules stay small."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from hub.processes import KINDS
from tests.conftest import ROOT

MODULE_LINES_MAX = 300
BIN = Path(sys.executable).parent


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / name), *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_import_contract_in_pyproject_is_kept() -> None:
    result = run_tool("lint-imports", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_import_is_a_declared_dependency_and_every_dependency_is_used() -> None:
    result = run_tool("deptry", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("top", ["hub", "workers"])
def test_no_module_is_over_300_lines(top: str) -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in (ROOT / top).rglob("*.py")}
    assert {path: lines for path, lines in sizes.items() if lines > MODULE_LINES_MAX} == {}


def test_each_process_kind_is_a_procfile_line_running_its_command() -> None:
    procfile = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )
    assert {name: command.split()[:2] for name, command in procfile.items()} == {
        kind.name: ["hub", kind.command] for kind in KINDS
    }


@pytest.mark.parametrize("script", sorted(path.stem for path in (ROOT / "bench").glob("*.py")))
def test_no_benchmark_script_shadows_an_importable_module(script: str) -> None:
    """``python bench/x.py`` puts bench/ first on the path: a bench/pusher.py once hid the pusher library."""
    assert importlib.util.find_spec(script) is None, f"bench/{script}.py shadows the module {script!r}"
