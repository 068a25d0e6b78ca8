"""The README's simulator findings equal their artifact, docs/findings/simulator/.

``quoted.json`` lists every number the README's "Advantage estimators in isolation" section
quotes (intervals, Holm p-values, run counts, wall times), with the file and key path it comes from. Each must (1) be printed in that README
section, (2) be the artifact's value formatted as quoted, and (3) for a difference, be the
95 % t-interval recomputed here (scipy) from the artifact's per-seed values.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "docs" / "findings" / "simulator"
QUOTED = json.loads((FOLDER / "quoted.json").read_text())["quoted"]


@functools.cache
def _section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### Advantage estimators in isolation")
    return readme[start : readme.index("\n### ", start + 1)]


@functools.cache
def _load(name: str) -> dict:
    return json.loads((FOLDER / name).read_text())


def _walk(node, path):
    for part in path:
        node = node[part]
    return node


def _formatted(entry: dict) -> str:
    value = _walk(_load(entry["file"]), entry["path"])
    if entry["kind"] == "p":
        return f"{value:.2g}"
    if entry["kind"] == "number":
        return format(value, entry["format"])
    scale, digits = entry["scale"], entry["digits"]
    text = f"{value['mean'] * scale:.{digits}f}"
    return text if value["half"] is None else text + f" ± {value['half'] * scale:.{digits}f}"


def test_the_artifact_records_how_it_was_made():
    for name in {entry["file"] for entry in QUOTED}:
        summary = _load(name)
        assert summary["command"].startswith("clinfair simulate ")
        assert summary["commit"] and summary["machine"]["cpus"] >= 1 and summary["wall_s"] > 0
        assert summary["holm_family_sizes"] and summary["training"]["optimizer"] in summary["command"]


@pytest.mark.parametrize("entry", QUOTED, ids=lambda e: f"{e['file']}:{'/'.join(map(str, e['path']))}")
def test_every_quoted_number_is_the_artifacts(entry):
    assert _formatted(entry) == entry["text"]
    assert entry["text"] in _section()


@pytest.mark.parametrize(
    "entry", [e for e in QUOTED if e["kind"] == "interval" and "diff_vs_" in "/".join(map(str, e["path"]))]
)
def test_every_quoted_difference_is_recomputed_from_the_seeds(entry):
    summary = _load(entry["file"])
    _, index, _, method, diff, metric = entry["path"]
    setting = summary["settings"][index]
    baseline = {"diff_vs_grpo": "grpo", "diff_vs_control": "grpo_renorm"}[diff]
    d = np.subtract(setting["per_seed"][method][metric], setting["per_seed"][baseline][metric])
    half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    value = _walk(summary, entry["path"])
    assert value["mean"] == pytest.approx(d.mean(), abs=1e-12)
    assert value["half"] == pytest.approx(half, rel=1e-9)
