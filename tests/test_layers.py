"""The layers of DESIGN.md section 1: imports point down, and the command line starts without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_help_of_every_command_imports_no_framework():
    """`clinfair --help` builds every sub-command's parser: none may import torch, transformers or TRL."""
    code = (
        "import sys, json, contextlib, io\n"
        "from clinfair.cli import build_parser\n"
        "parser = build_parser()\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        parser.parse_args(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps(sorted(m for m in ('torch', 'transformers', 'trl', 'vllm') if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_import_contract_holds():
    """The import-linter contract of pyproject.toml on the installed layout (also run by `make lint`)."""
    result = subprocess.run(
        [str(ROOT / ".ci" / "lint-imports")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def _tasks_imports(path: Path) -> set[str]:
    """The ``clinfair.tasks`` modules a file imports, anywhere in it (inside functions too)."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("clinfair.tasks")}


def test_task_spec_and_table_config_sit_below_the_registry_and_the_builders():
    """registry -> builders -> spec runs one way: the spec imports nothing else of tasks but the
    attribute spec (which imports only the schema), the table config only the spec, and no builder
    imports the registry."""
    assert _tasks_imports(ROOT / "tasks" / "spec.py") == {"clinfair.tasks.attributes"}
    # the attribute spec: the schema, and the spec's type for its hints only (under TYPE_CHECKING)
    assert _tasks_imports(ROOT / "tasks" / "attributes.py") == {
        "clinfair.tasks.schema",
        "clinfair.tasks.spec",
    }
    assert "if TYPE_CHECKING:" in (ROOT / "tasks" / "attributes.py").read_text()
    assert _tasks_imports(ROOT / "tasks" / "table_config.py") == {"clinfair.tasks.spec"}
    for builder in sorted((ROOT / "tasks" / "builders").glob("*.py")):
        assert "clinfair.tasks.registry" not in _tasks_imports(builder), builder.name
