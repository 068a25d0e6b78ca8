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
version, results and metrics schema versions, protocol, task set, split, per task the
number of rows and a digest of their ids, and the settings that change the numbers
(:func:`compared_settings`: backend, max new tokens, sampling, clinfair's prompt template, scores
mode, image limit; a setting one run records and another does not differs). Runs whose setups
differ are refused, naming each difference and the runs on each side, unless ``allow_mixed``
is set: then the most common setup is the reference and each other run is flagged with what
differs (the ``flags`` column of the table, a banner on the page, the dataset card) and not
ranked with the others (``clinfair.leaderboard.ranking``).

Run ids are unique (:func:`unique_slugs`); paths given without ``results.json`` are skipped,
one line each (:func:`find_result_folders`).
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
from clinfair.benchmark.runner import PARTIAL_FILE, PREDICTIONS_FILE, RESULTS_FILE

from clinfair.core.errors import ClinfairError, one_line
from clinfair.core.hub import public_model_name

#: A training-dynamics file found in a result folder is read with the run (``clinfair.leaderboard.dynamics``).
DYNAMICS_FILE = "fairness.jsonl"
#: Values recomputed from predictions.parquet must equal results.json's to this tolerance (JSON keeps
#: every digit of a float: a larger difference is an edit or another computation).
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
        return EvalResult(self.folder, self.results).tasks

    @property
    def label_spaces(self) -> dict[str, list[str]]:
        return EvalResult(self.folder, self.results).label_spaces

    @property
    def settings(self) -> dict[str, Any]:
        """The settings that change the numbers (:func:`run_settings`)."""
        return run_settings(self.results)

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


def unique_slugs(names: Sequence[str]) -> list[str]:
    """A file-name-safe id per name, all distinct (also where case is ignored, as on macOS).

    A name that is already safe keeps itself; the others get their slug, with ``-2``, ``-3``, ...
    while it is taken: "x y", "x-y" and "x-y-2" become "x-y-3", "x-y" and "x-y-2", never one folder.
    """
    ids: list[str | None] = [name if _slug(name) == name else None for name in names]
    taken: set[str] = set()
    for index, slug in enumerate(ids):  # safe names first, in order; a case-twin falls to the loop below
        if slug is not None and slug.lower() in taken:
            ids[index] = None
        elif slug is not None:
            taken.add(slug.lower())
    for index, name in enumerate(names):
        if ids[index] is None:
            base = candidate = _slug(name)
            suffix = 2
            while candidate.lower() in taken:
                candidate, suffix = f"{base}-{suffix}", suffix + 1
            ids[index] = candidate
            taken.add(candidate.lower())
    return [str(slug) for slug in ids]


def _identity(results: Mapping[str, Any]) -> str:
    """What makes two folders the same run: run name, model and the full request."""
    return json.dumps(
        {"run": results["run"], "model": results["model"].get("model"), "request": results["request"]},
        sort_keys=True,
    )


def find_result_folders(folders: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """The folders that hold a ``results.json``, and one line for each folder (or file) given that
    does not and is skipped (``clinfair leaderboard build runs/*`` meets training folders too).

    A path that does not exist, and an evaluation that has not finished, are refused: a typo or an
    unfinished run must not silently leave a run off the board.
    """
    if not folders:
        raise LeaderboardError("no result folders given; pass the output folders of `clinfair eval`")
    found, skipped = [], []
    for folder in map(Path, folders):
        if not folder.exists():
            raise LeaderboardError(f"{folder}: no such folder")
        if folder.is_dir() and (folder / RESULTS_FILE).is_file():
            found.append(folder)
        elif folder.is_dir() and (folder / PARTIAL_FILE).exists():
            EvalResult.load(folder)  # raises: the evaluation has not finished
        else:
            what = "not a folder" if not folder.is_dir() else f"no {RESULTS_FILE}"
            skipped.append(f"skipped {folder}: {what} (not a `clinfair eval` output folder)")
    if not found:
        raise LeaderboardError(
            f"none of the {len(folders)} path(s) given holds a {RESULTS_FILE}; pass the output folders "
            "of `clinfair eval`"
        )
    return found, skipped


def load_runs(folders: Sequence[str | Path]) -> list[Run]:
    """Read and check every folder; refuse duplicates and shared run names.

    Run ids (file-name-safe slugs of the run names, used for the dataset's ``runs/``
    folders) are unique (:func:`unique_slugs`), so every run's files reach the build.
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
    for run, run_id in zip(runs, unique_slugs([run.name for run in runs])):
        run.run_id = run_id
    return runs


def _ids_digest(frame: pd.DataFrame) -> str:
    ids = "\n".join(sorted(map(str, frame["id"])))
    return hashlib.sha256(ids.encode("utf-8")).hexdigest()[:12]


#: The settings that must agree for runs to be ranked together: how the evaluator generated and
#: scored, not what was evaluated. The dtype and a checkpoint's own chat template come with the
#: checkpoint, so a board of model families differs there by design: they are shown, not compared.
#: Whether the template was the evaluator's choice (``--chat-template``) is compared, and so is
#: that template's content (a resume that changes any of them is refused by ``clinfair eval``).
COMPARED_SETTINGS = (
    "backend",
    "max_new_tokens",
    "temperature",
    "do_sample",
    "top_p",
    "seed",
    "prompt_template_sha256",
    "chat_template_source",
    "chat_template_sha256",
    "scores",
    "max_images_per_prompt",
)
#: Compared only between runs that sample: greedy decoding does not read them.
SAMPLING_SETTINGS = ("top_p", "seed")
#: ``chat_template_source`` of a template the evaluator chose; only its content is compared.
CHOSEN_TEMPLATE = "--chat-template"
#: Keys of ``results.json``'s settings that are the run's identity or its rows, not settings: the
#: table shows them in their own columns, and the rows and split rules compare them.
IDENTITY_SETTINGS = ("model", "revision", "split", "limit", "data_sha256")


def run_settings(results: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a run that change its numbers, flat (``{"max_new_tokens": 64, ...}``).

    ``results.json``'s ``settings`` block when it has one (``clinfair eval`` records it; nested keys
    joined with dots, the run's identity and rows left out), else what older results record: the
    backend, the generation settings (max new tokens, temperature, do_sample; top-p and the seed
    only when sampling) and the scores mode.
    """
    recorded = results.get("settings")
    if isinstance(recorded, Mapping):
        return {
            name: value
            for name, value in _flat(recorded).items()
            if name.split(".")[0] not in IDENTITY_SETTINGS
        }
    request = results.get("request") or {}
    generation = request.get("generation") or {}
    temperature = generation.get("temperature")
    sampling = None if temperature is None else bool(temperature > 0)
    settings = {
        "backend": request.get("backend") or (results.get("model") or {}).get("backend"),
        "max_new_tokens": generation.get("max_new_tokens"),
        "temperature": temperature,
        "do_sample": sampling,
        "top_p": generation.get("top_p") if sampling else None,
        "seed": generation.get("seed") if sampling else None,
        "scores": request.get("scores"),
    }
    return {name: value for name, value in settings.items() if value is not None}


def compared_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a run's settings (:func:`run_settings`) that must agree across a ranking
    (:data:`COMPARED_SETTINGS`; top-p and seed only when the run samples, the chat template's
    content only when the evaluator chose it)."""
    sampling = bool(settings.get("do_sample"))
    chosen = settings.get("chat_template_source") == CHOSEN_TEMPLATE
    return {
        name: settings[name]
        for name in COMPARED_SETTINGS
        if name in settings
        and (sampling or name not in SAMPLING_SETTINGS)
        and (chosen or name != "chat_template_sha256")
    }


def _flat(block: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in block.items():
        if isinstance(value, Mapping):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = ",".join(map(str, value)) if isinstance(value, list) else value
    return flat


def settings_text(settings: Mapping[str, Any]) -> str:
    """``backend=hf, max_new_tokens=64, ...``: a run's settings on one line (tables, page, Space)."""
    return ", ".join(f"{name}={value}" for name, value in settings.items())


#: What a setting not recorded by a run reads as in a comparison.
NOT_RECORDED = "not recorded"


def evaluation_setup(run: Run) -> dict[str, Any]:
    """The fields that must agree for two runs' numbers to be comparable (see module docstring);
    the run's settings (:func:`run_settings`) follow as ``setting:<name>``."""
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
    } | {f"setting:{name}": value for name, value in compared_settings(run.settings).items()}


def comparability(runs: Sequence[Run], allow_mixed: bool) -> dict[str, Any]:
    """Check that the runs share one evaluation setup and settings; flag the others with ``allow_mixed``.

    Returns ``{"mixed": bool, "reference": setup, "differences": [line, ...]}`` and sets
    each differing run's ``flags`` (such a run is then not ranked with the others,
    ``clinfair.leaderboard.ranking``). Raises :class:`LeaderboardError` listing the
    differences when the setups differ and ``allow_mixed`` is false.
    """
    setups = [evaluation_setup(run) for run in runs]
    fields = {**SETUP_FIELDS}
    for setup in setups:
        fields |= {key: key.removeprefix("setting:") for key in setup if key.startswith("setting:")}
    setups = [{name: setup.get(name, NOT_RECORDED) for name in fields} for setup in setups]
    keys = [json.dumps(setup, sort_keys=True, default=str) for setup in setups]
    counts = Counter(keys)
    reference_key = max(counts, key=lambda k: (counts[k], -keys.index(k)))  # most common, then first
    reference = setups[keys.index(reference_key)]
    differences = []
    for name, label in fields.items():
        values: dict[Any, list[str]] = {}
        for run, setup in zip(runs, setups):
            values.setdefault(setup[name], []).append(run.name)
        if len(values) > 1:
            sides = "; ".join(f"{value} ({', '.join(members)})" for value, members in values.items())
            differences.append(f"{label}: {sides}")
    if differences and not allow_mixed:
        raise LeaderboardError(
            "the runs were not evaluated the same way, so their numbers are not comparable: "
            + " | ".join(differences)
            + ". Evaluate them alike, or pass --allow-mixed to build anyway with the odd runs flagged "
            "and not ranked with the others"
        )
    for run, setup in zip(runs, setups):
        run.flags = "; ".join(
            f"{label} differs ({setup[name]})"
            for name, label in fields.items()
            if setup[name] != reference[name]
        )
    return {"mixed": bool(differences), "reference": reference, "differences": differences}
