"""Reading ``clinfair eval`` result folders, and deciding which runs may share a table.

A leaderboard row is one evaluation run: a folder holding ``results.json`` and
``predictions.parquet`` (``clinfair.benchmark.runner``). Every folder is checked before anything
is computed, and a problem is reported as one line naming the folder and what to do:

* ``results.json`` missing (an unfinished run is named as such), not JSON, not a clinfair
  results file, or written by a newer clinfair (a newer results schema);
* ``predictions.parquet`` missing, truncated or unreadable, lacking a column, or not
  matching ``results.json`` (row counts, or the paper-protocol values recomputed from it);
* ``results.json`` without the paper protocol's ``overall`` and ``by_dataset`` values;
* an example (dataset, id) that appears twice in ``predictions.parquet``: it would count twice;
* two folders holding the same run (same run name, model and request), or two different
  runs sharing a run name (the name is the row's identity on the leaderboard).

A run read here names no local path (:func:`public_results`): the model of a run evaluated
from a local folder becomes its Hub id when known, else the folder's name, in every field of
``results.json``, and so does a run name that is a local path (the default of clinfair <= 0.1.0).

**Mixing policy.** Numbers are comparable only when they were computed the same way on the
same rows. :func:`comparability` describes a run by its *evaluation setup*: clinfair
version, results and metrics schema versions, protocol, task set, split, and per task the
number of rows and a digest of their ids. Runs whose setups differ are refused, naming each
difference and the runs on each side, unless ``allow_mixed`` is set: then the most common
setup is the reference and each other run is flagged with what differs (the ``flags``
column of the table, a banner on the page, the dataset card).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from clinfair.benchmark.eval_result import EvalResult
from clinfair.benchmark.metrics import METRICS_SCHEMA
from clinfair.benchmark.runner import PREDICTIONS_FILE, RESULTS_FILE

from clinfair.core.errors import ClinfairError, one_line
from clinfair.core.hub import public_model_name

#: A training-dynamics file found in a result folder is read with the run (``clinfair.leaderboard.dynamics``).
DYNAMICS_FILE = "fairness.jsonl"
#: Paper-protocol values recomputed from predictions.parquet must equal results.json's to this tolerance.
MATCH_TOLERANCE = 1e-9
#: Fields of the evaluation setup, in the order differences are reported, with readable names.
SETUP_FIELDS = {
    "clinfair_version": "clinfair version",
    "schema_version": "results schema version",
    "metrics_schema": "metrics schema",
    "protocol": "protocol",
    "tasks": "task set",
    "split": "split",
    "rows": "evaluation rows (count and ids per task)",
}


class LeaderboardError(ClinfairError):
    """Input the leaderboard cannot use; the message is one line saying why and what to do."""


@dataclass
class Run:
    """One evaluation: its folder, ``results.json`` and ``predictions.parquet``."""

    folder: Path
    results: dict[str, Any]
    predictions: pd.DataFrame
    flags: str = ""  # what differs from the reference setup (only with allow_mixed)
    run_id: str = field(default="")  # file-name-safe unique id, set by load_runs

    @property
    def name(self) -> str:
        return str(self.results["run"]["name"])

    @property
    def method(self) -> str:
        """The training method the run declares (``--method``); ``"-"`` when none was given."""
        return str(self.results["run"].get("method") or "-")

    @property
    def model(self) -> str:
        return str(self.results["model"].get("model") or self.results["request"].get("model"))

    @property
    def tasks(self) -> list[str]:
        return list(self.results["tasks"])

    @property
    def label_spaces(self) -> dict[str, list[str]]:
        return {task: list(info["label_space"]) for task, info in self.results["tasks"].items()}

    @property
    def probe_finding(self) -> str | None:
        """What ``clinfair probe --out <this folder>`` flagged: the answer depends on a stated attribute."""
        path = self.folder / "probe.json"
        if not path.is_file():
            return None
        try:
            probe = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise LeaderboardError(f"{path}: not a readable probe report ({one_line(error)})") from None
        found = []
        for task, report in (probe.get("tasks") or {}).items():
            for attribute, entry in (report.get("attributes") or {}).items():
                if entry.get("flagged"):
                    flip = entry["flip_rate"]
                    ci = f" [{flip['ci'][0]:.2f}, {flip['ci'][1]:.2f}]" if flip.get("ci") else ""
                    found.append(
                        f"{task}: answers depend on the stated {attribute} (flip rate {flip['value']:.2f}{ci})"
                    )
        return "; ".join(found) or None


def read_results(result: EvalResult) -> dict[str, Any]:
    """``results.json`` of a result folder (read and checked by ``EvalResult.load``), checked to hold
    everything the leaderboard shows."""
    path = result.folder / RESULTS_FILE
    results = result.results
    missing = [
        key
        for key, present in (
            ("run.name", isinstance(results.get("run"), dict) and results["run"].get("name")),
            ("model", isinstance(results.get("model"), dict)),
            ("request", isinstance(results.get("request"), dict)),
            ("tasks", isinstance(results.get("tasks"), dict) and bool(results["tasks"])),
            ("metrics.paper", isinstance(results.get("metrics"), dict) and "paper" in results["metrics"]),
            *(
                (
                    f"metrics.paper.{key}",
                    isinstance(results.get("metrics"), dict)
                    and isinstance(results["metrics"].get("paper"), dict)
                    and isinstance(results["metrics"]["paper"].get(key), dict),
                )
                for key in ("overall", "by_dataset")
            ),
        )
        if not present
    ]
    if missing:
        raise LeaderboardError(
            f"{path} lacks {', '.join(missing)}; it is not a complete clinfair results file"
        )
    for task, info in results["tasks"].items():
        if not isinstance(info, dict) or not {"rows", "label_space", "invalid_answers"} <= set(info):
            raise LeaderboardError(f"{path}: tasks.{task} lacks rows, label_space or invalid_answers")
    if results["metrics"].get("schema") != METRICS_SCHEMA:
        raise LeaderboardError(
            f"{path} holds metrics schema {results['metrics'].get('schema')!r}; this clinfair reads {METRICS_SCHEMA!r}"
        )
    return results


def read_predictions(result: EvalResult, results: Mapping[str, Any]) -> pd.DataFrame:
    """``predictions.parquet`` (read and checked by ``EvalResult.predictions``), checked to belong to ``results``."""
    path = result.predictions_path
    frame = result.predictions
    counts = frame["dataset"].value_counts()
    for task, info in results["tasks"].items():
        if int(counts.get(task, 0)) != int(info["rows"]):
            raise LeaderboardError(
                f"{path} has {int(counts.get(task, 0))} rows of {task} but {RESULTS_FILE} counts "
                f"{info['rows']}; the two files are not from the same run"
            )
    extra = sorted(set(counts.index) - set(results["tasks"]))
    if extra:
        raise LeaderboardError(
            f"{path} has rows of task(s) {', '.join(extra)} that {RESULTS_FILE} does not list"
        )
    return frame


def _replace_strings(value: Any, replacements: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in replacements.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {key: _replace_strings(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_strings(item, replacements) for item in value]
    return value


def public_results(results: Mapping[str, Any]) -> dict[str, Any]:
    """``results`` with every local path of its model replaced by the model's public name.

    The public name is the Hub id when known, else the model folder's last component
    (``clinfair.core.io.public_model_name``). A run name that is the model path or an absolute
    path is replaced the same way.
    """
    models = {str(results["model"].get("model") or ""), str(results["request"].get("model") or "")}
    replacements = {}
    for model in sorted(models - {""}, key=len, reverse=True):  # longest first: a path inside another
        public = public_model_name(model)
        if public != model:
            replacements[model] = public
    public = _replace_strings(dict(results), replacements)
    name = str(results["run"]["name"])
    if name in models or os.path.isabs(name):
        public["run"] = {**public["run"], "name": public_model_name(name)}
    return public


def check_paper_values(run: Run, recomputed: Mapping[str, Any]) -> None:
    """Refuse a predictions file whose paper-protocol values differ from results.json's."""
    stored = run.results["metrics"]["paper"]
    pairs = [("overall", stored.get("overall") or {}, recomputed["overall"])]
    pairs += [
        (task, stored["by_dataset"].get(task) or {}, recomputed["by_dataset"].get(task) or {})
        for task in run.tasks
    ]
    for scope, old, new in pairs:
        for key, value in new.items():
            before = old.get(key)
            if (before is None) != (value is None) or (
                value is not None and not math.isclose(before, value, rel_tol=0, abs_tol=MATCH_TOLERANCE)
            ):
                raise LeaderboardError(
                    f"{run.folder}: {PREDICTIONS_FILE} gives {scope} {key} = {value} but {RESULTS_FILE} "
                    f"says {before}; the files do not belong together (re-run `clinfair eval`)"
                )


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug or "run"


def _identity(results: Mapping[str, Any]) -> str:
    """What makes two folders the same run: run name, model and the full request."""
    return json.dumps(
        {"run": results["run"], "model": results["model"].get("model"), "request": results["request"]},
        sort_keys=True,
    )


def load_runs(folders: Sequence[str | Path]) -> list[Run]:
    """Read and check every folder; refuse duplicates and shared run names.

    Run ids (file-name-safe slugs of the run names, used for the dataset's ``runs/``
    folders) are made unique by a numeric suffix.
    """
    if not folders:
        raise LeaderboardError("no result folders given; pass the output folders of `clinfair eval`")
    runs: list[Run] = []
    for folder in map(Path, folders):
        result = EvalResult.load(folder)
        results = read_results(result)
        predictions = read_predictions(result, results)
        runs.append(Run(folder=folder, results=public_results(results), predictions=predictions))
    seen: dict[str, Run] = {}
    for run in runs:
        earlier = next((r for r in seen.values() if r.name == run.name), None)
        if earlier is not None:
            if _identity(earlier.results) == _identity(run.results):
                raise LeaderboardError(
                    f"{earlier.folder} and {run.folder} hold the same run ({run.name!r}: same model and "
                    "request); pass only one of them"
                )
            raise LeaderboardError(
                f"{earlier.folder} and {run.folder} are different runs both named {run.name!r}; "
                "give each a distinct `clinfair eval --run-name`"
            )
        seen[run.name] = run
    used: Counter[str] = Counter()
    for run in runs:
        base = _slug(run.name)
        used[base] += 1
        run.run_id = base if used[base] == 1 else f"{base}-{used[base]}"
    return runs


def _ids_digest(frame: pd.DataFrame) -> str:
    ids = "\n".join(sorted(map(str, frame["id"])))
    return hashlib.sha256(ids.encode("utf-8")).hexdigest()[:12]


def evaluation_setup(run: Run) -> dict[str, Any]:
    """The fields that must agree for two runs' numbers to be comparable (see module docstring)."""
    results = run.results
    return {
        "clinfair_version": results.get("clinfair_version"),
        "schema_version": results["schema_version"],
        "metrics_schema": results["metrics"].get("schema"),
        "protocol": results.get("protocol"),
        "tasks": ",".join(sorted(run.tasks)),
        "split": results["request"].get("split"),
        "rows": ",".join(
            f"{task}:{len(rows)}:{_ids_digest(rows)}"
            for task, rows in sorted(run.predictions.groupby("dataset", sort=True))
        ),
    }


def comparability(runs: Sequence[Run], allow_mixed: bool) -> dict[str, Any]:
    """Check that the runs share one evaluation setup; flag the others with ``allow_mixed``.

    Returns ``{"mixed": bool, "reference": setup, "differences": [line, ...]}`` and sets
    each differing run's ``flags``. Raises :class:`LeaderboardError` listing the
    differences when the setups differ and ``allow_mixed`` is false.
    """
    setups = [evaluation_setup(run) for run in runs]
    keys = [json.dumps(setup, sort_keys=True) for setup in setups]
    counts = Counter(keys)
    reference_key = max(counts, key=lambda k: (counts[k], -keys.index(k)))  # most common, then first
    reference = setups[keys.index(reference_key)]
    differences = []
    for name, label in SETUP_FIELDS.items():
        values: dict[Any, list[str]] = {}
        for run, setup in zip(runs, setups):
            values.setdefault(setup[name], []).append(run.name)
        if len(values) > 1:
            sides = "; ".join(f"{value} ({', '.join(names)})" for value, names in values.items())
            differences.append(f"{label}: {sides}")
    if differences and not allow_mixed:
        raise LeaderboardError(
            "the runs were not evaluated the same way, so their numbers are not comparable: "
            + " | ".join(differences)
            + ". Evaluate them alike, or pass --allow-mixed to build anyway with the odd runs flagged"
        )
    for run, setup in zip(runs, setups):
        run.flags = "; ".join(
            f"{SETUP_FIELDS[name]} differs ({setup[name]})"
            for name in SETUP_FIELDS
            if setup[name] != reference[name]
        )
    return {"mixed": bool(differences), "reference": reference, "differences": differences}
