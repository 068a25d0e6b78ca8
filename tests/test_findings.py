"""The README's Findings rest on artifacts: every subsection names its artifact folder (or, for
a study too slow for CI time, its command and its last artifact), and every interval a
subsection with an artifact quotes (``a ± b`` and ``[a, b]``, in the text and its tables) is
in that artifact's ``report.md``, and so is every other decimal number it quotes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT = re.compile(r"Artifacts?: [`\[](docs/findings/[\w-]+)/?[`\]]")
NOT_IN_CI = re.compile(r"Not regenerated in CI time: `clinfair [^`]+`; last artifact:\s")
DECIMALS = re.compile(r"(?<![\w.])\d+\.\d+")
INTERVALS = re.compile(r"[-+]?\d+(?:\.\d+)? ± \d+(?:\.\d+)?|\[[-+]?\d+(?:\.\d+)?, [-+]?\d+(?:\.\d+)?\]")


def _normalise(text: str) -> str:
    return text.replace("−", "-").replace("+", "")


def findings_sections() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    findings = readme.split("\n## Findings\n", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^### (.+)$", findings, flags=re.MULTILINE)
    return {title: body for title, body in zip(parts[1::2], parts[2::2])}


def test_the_findings_section_has_subsections():
    assert len(findings_sections()) >= 2


@pytest.mark.parametrize("title", list(findings_sections()))
def test_every_finding_names_its_artifact_or_its_command(title):
    body = findings_sections()[title]
    assert ARTIFACT.search(body) or NOT_IN_CI.search(body), (
        f"README Findings '{title}': add 'Artifact: `docs/findings/<name>/`' or "
        f"'Not regenerated in CI time: `clinfair ...`; last artifact: ...'"
    )


def _checked_here(body: str) -> bool:
    """A section whose artifact lists its quoted numbers in quoted.json (the simulator's) is checked
    number by number against it by its own test (tests/test_findings_simulator.py), not here."""
    found = ARTIFACT.search(body)
    return bool(found) and not (ROOT / found.group(1) / "quoted.json").is_file()


def test_an_artifact_with_quoted_json_has_its_own_test():
    for body in findings_sections().values():
        found = ARTIFACT.search(body)
        if found and (ROOT / found.group(1) / "quoted.json").is_file():
            assert any(
                "quoted.json" in path.read_text() for path in (ROOT / "tests").glob("test_findings_*.py")
            ), f"{found.group(1)}/quoted.json: no test reads it"


@pytest.mark.parametrize("title", [t for t, body in findings_sections().items() if _checked_here(body)])
def test_every_interval_quoted_is_the_artifacts(title):
    body = findings_sections()[title]
    folder = ROOT / ARTIFACT.search(body).group(1)
    # `clinfair findings regenerate` writes manifest.json and config.json; `clinfair simulate --out`
    # records the same facts in its summary.json
    if (folder / "manifest.json").is_file():
        manifest = json.loads((folder / "manifest.json").read_text())
        assert {"command", "commit", "machine", "wall_s"} <= set(manifest)
        assert (folder / "config.json").is_file()
    else:
        summary = json.loads((folder / "summary.json").read_text())
        assert {"commit", "machine", "wall_s"} <= set(summary), (
            f"{folder}/summary.json lacks commit/machine/wall_s"
        )
    report = _normalise((folder / "report.md").read_text())
    quoted = INTERVALS.findall(body)
    assert quoted or DECIMALS.findall(body), f"'{title}' quotes no number: nothing to check"
    missing = [q for q in quoted if _normalise(q) not in report]
    assert not missing, f"'{title}' quotes {missing}, not in {folder / 'report.md'}"
    numbers = set(DECIMALS.findall(report))
    stray = [n for n in DECIMALS.findall(body) if n not in numbers]
    assert not stray, f"'{title}' quotes {stray}, not in {folder / 'report.md'}"


def test_the_demo_simulation_artifact_is_its_own_per_seed_results():
    """report.md is what the per-seed results give (the numbers are not edited by hand)."""
    from clinfair.demo import primary_report

    folder = ROOT / "docs" / "findings" / "demo_simulation"
    result = json.loads((folder / "per_seed.json").read_text())
    assert primary_report(result) == (folder / "report.md").read_text()


def test_findings_regenerate_reproduces_the_demo_simulation(tmp_path):
    """Deterministic: a fresh run gives the committed report, number for number."""
    from clinfair.cli import main

    assert (
        main(["findings", "regenerate", "demo_simulation", "--out", str(tmp_path), "--work", str(tmp_path)])
        == 0
    )
    fresh = (tmp_path / "demo_simulation" / "report.md").read_text()
    assert fresh == (ROOT / "docs" / "findings" / "demo_simulation" / "report.md").read_text()
    manifest = json.loads((tmp_path / "demo_simulation" / "manifest.json").read_text())
    assert manifest["command"] == "clinfair findings regenerate demo_simulation" and manifest["wall_s"] > 0


def test_unknown_finding_is_one_line(capsys):
    from clinfair.cli import main

    assert main(["findings", "regenerate", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown finding(s) ['nope']" in err and len(err.strip().splitlines()) == 1
