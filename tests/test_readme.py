"""The README's task table says what `clinfair tasks list` says, and the docs it points to exist."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_task_rows() -> dict[str, str]:
    """key -> demographics cell of the README's "## Tasks" table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Tasks\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([a-z0-9_]+)`", cells[0]) if len(cells) == 4 else None
        if match:
            rows[match.group(1)] = cells[3]
    return rows


def test_readme_task_table_matches_tasks_list():
    listed = json.loads(
        subprocess.run(
            [sys.executable, "-m", "clinfair.cli", "tasks", "list", "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    expected = {task["key"]: ", ".join(task["demographics"]) for task in listed}
    assert readme_task_rows() == expected


def test_readme_and_docs_links_resolve():
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_no_citation_of_a_design_file_outside_the_repository():
    """Code and pages cite docs/design.md, which is in the repository, never a design file outside it."""
    assert (ROOT / "docs" / "design.md").is_file()
    offenders = []
    for path in ROOT.rglob("*"):
        if any(part in {".venv", ".git", "node_modules", "build"} for part in path.relative_to(ROOT).parts):
            continue
        if path.suffix in {".py", ".md", ".yaml", ".toml", ".html", ".j2"} and path.is_file():
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if re.search(r"(?<![/\w])DESIGN\.md", line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []
