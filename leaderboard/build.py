"""``clinfair leaderboard build``: result folders in, one leaderboard folder out.

The output folder (the *build*) is what ``push`` uploads and what the Space app reads::

    index.html            self-contained static page (sortable, filterable table; figures inline)
    leaderboard.parquet   one row per run: <scope>.<metric> with .ci_low / .ci_high (clinfair.leaderboard.tables)
    leaderboard.md        the same per scope, values with intervals
    paper_table.md        the paper's layout: point values, best in bold, PP and EOD x100
    scores.parquet        long form: run, method, model, scope, metric, value, ci_low, ci_high
    groups.parquet        per-group values (paper layer with intervals; standard layer from eval)
    predictions.parquet   every run's predictions with a `run` column (one schema for all runs)
    dynamics.parquet      training-dynamics values (only when some were given)
    plots/*.png           the figures of the page
    runs/<run_id>/        each run's results.json (local paths replaced, see below) and
                          predictions.parquet (byte for byte)
    dynamics/<label>.jsonl  each training-dynamics file (one line per step)
    manifest.json         how it was built: runs, settings, mixing report, metric definitions, figures

The folder appears atomically (``clinfair.core.io.atomic_folder``): everything is written into
a temporary sibling folder that is renamed into place at the end, so a failure leaves the
previous build (or nothing); an existing folder is replaced only if it is an earlier build.

Nothing in the build names a local path: a model evaluated from a local folder is named by
its Hub id when known, else by the folder's name (``clinfair.core.io.public_model_name``), in the
tables, the page, the manifest and the runs' results.json (``clinfair.leaderboard.runs.load_runs``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from clinfair.benchmark.runner import PREDICTIONS_FILE, RESULTS_FILE
from clinfair.leaderboard import dynamics as dyn
from clinfair.leaderboard import plots
from clinfair.leaderboard.defaults import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_CI_LEVEL,
    DEFAULT_MAX_INVALID,
    DEFAULT_TITLE,
)
from clinfair.leaderboard.markdown import leaderboard_markdown, paper_markdown
from clinfair.leaderboard.page import Figure, render_page
from clinfair.leaderboard.ranking import mark_against_baseline
from clinfair.leaderboard.runs import (
    DYNAMICS_FILE,
    LeaderboardError,
    Run,
    comparability,
    find_result_folders,
    load_runs,
    unique_slugs,
)
from clinfair.leaderboard.statistics import OVERALL, metric_definitions
from clinfair.leaderboard.tables import Tables, compute_tables

from clinfair.core.io import (
    atomic_folder,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_parquet,
    atomic_write_text,
    check_replaceable,
)
from clinfair.core.version import __version__

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "clinfair.leaderboard/1"


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"


def combined_predictions(runs: Sequence[Run]) -> pd.DataFrame:
    """All runs' predictions with a leading ``run`` column, list columns typed as lists of strings.

    A run whose answers were all invalid has a ``prediction`` column of nulls (Arrow type
    null), another run's is list<string>: casting here gives the dataset one schema.
    """
    frames = []
    for run in runs:
        frame = run.predictions.copy()
        frame.insert(0, "run", run.name)
        frames.append(frame)
    combined = pd.concat(frames, ignore_index=True)
    for column in ("choices", "answer", "prediction"):
        combined[column] = [None if value is None else [str(v) for v in value] for value in combined[column]]
    return combined


def _predictions_schema(frame: pd.DataFrame):

    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    for column in ("choices", "answer", "prediction"):
        schema = schema.set(schema.get_field_index(column), pa.field(column, pa.list_(pa.string())))
    return schema


def _write_predictions(path: Path, frame: pd.DataFrame) -> None:

    table = pa.Table.from_pandas(frame, schema=_predictions_schema(frame), preserve_index=False)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def _reliability_figures(tables: Tables, runs: Sequence[Run]) -> list[Figure]:
    """Per-group reliability diagrams for each task, of the ranked run with the highest AUROC there
    (one readable figure per task rather than one per run)."""
    board = tables.leaderboard.set_index("run")
    figures = []
    for task in tables.scopes[1:]:
        column = f"{task}.auroc"
        if column not in board:
            continue
        ranked = board[board["unranked"].isna()] if "unranked" in board else board
        candidates = ranked[column].dropna()
        if candidates.empty:
            continue
        best = str(candidates.idxmax())
        run = next(r for r in runs if r.name == best)
        block = run.results["metrics"]["scores"]["by_dataset"][task]
        figures.append(
            Figure(
                file=f"plots/reliability_{_file_name(task)}.png",
                png=plots.reliability_diagrams(block, best, task),
                caption=f"{task}: per-group reliability of {best}, the ranked run with the highest AUROC",
                kind="groups",
                task=task,
            )
        )
    return figures


def _standard_group_figures(tables: Tables, run_names: list[str], paper_groups: pd.DataFrame) -> list[Figure]:
    """Bars per group of each attribute the paper protocol does not cover (e.g. fitzpatrick,
    sex*age_group): the standard layer's values with the intervals of ``clinfair eval``."""
    if not len(tables.groups):
        return []
    standard = tables.groups[tables.groups["layer"] == "standard"]
    figures = []
    for task in tables.scopes[1:]:
        plotted = set(paper_groups.loc[paper_groups["task"] == task, "attribute"])
        for attribute in dict.fromkeys(standard.loc[standard["task"] == task, "attribute"]):
            if attribute in plotted:
                continue
            figures.append(
                Figure(
                    file=f"plots/groups_{_file_name(task)}_{_file_name(attribute)}.png",
                    png=plots.group_bars(tables.groups, run_names, task, attribute, layer="standard"),
                    caption=f"{task}: macro-F1 and accuracy per {attribute} group (standard layer)",
                    kind="groups",
                    task=task,
                    attribute=attribute,
                )
            )
    return figures


def _figures(
    tables: Tables, run_names: list[str], curves: pd.DataFrame | None, runs: list[Run] = ()
) -> list[Figure]:
    figures = []
    board = tables.leaderboard
    unranked = set(board.loc[board["unranked"].notna(), "run"]) if "unranked" in board else set()
    for scope in tables.scopes:
        figures.append(
            Figure(
                file=f"plots/scatter_{_file_name(scope)}.png",
                png=plots.accuracy_gap_scatter(tables.scores, run_names, scope, unranked),
                caption=f"{scope}: accuracy vs EOD and F1 vs ΔF1 per method, with the Pareto frontier of the ranked "
                "methods",
                kind="scatter",
                scope=scope,
            )
        )
    paper_groups = tables.groups[tables.groups["layer"] == "paper"] if len(tables.groups) else tables.groups
    for task in tables.scopes[1:]:
        for attribute in dict.fromkeys(paper_groups.loc[paper_groups["task"] == task, "attribute"]):
            figures.append(
                Figure(
                    file=f"plots/groups_{_file_name(task)}_{_file_name(attribute)}.png",
                    png=plots.group_bars(tables.groups, run_names, task, attribute),
                    caption=f"{task}: F1 and accuracy per {attribute} group",
                    kind="groups",
                    task=task,
                    attribute=attribute,
                )
            )
    figures += _standard_group_figures(tables, run_names, paper_groups)
    figures += _reliability_figures(tables, runs)
    if curves is not None and len(curves):
        figures.append(
            Figure(
                file="plots/dynamics_overall.png",
                png=plots.dynamics_curves(curves, OVERALL),
                caption="training dynamics: F1, ΔF1, EOD and PP vs step (validation)",
                kind="dynamics",
            )
        )
    return figures


@dataclass
class BuildResult:
    out: Path
    runs: list[Run]
    tables: Tables
    comparison: dict[str, Any]
    files: list[str]
    warnings: list[str] = field(default_factory=list)  # input that was read with a repair, one line each
    skipped: list[str] = field(default_factory=list)  # paths given that hold no run, one line each


def build_leaderboard(
    folders: Sequence[str | Path],
    out: str | Path,
    *,
    dynamics: Sequence[str] = (),
    allow_mixed: bool = False,
    n_bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    ci_level: float = DEFAULT_CI_LEVEL,
    title: str = DEFAULT_TITLE,
    max_invalid: float = DEFAULT_MAX_INVALID,
    baseline: str | None = None,
) -> BuildResult:
    """Read and check the result folders, compute the tables and write the build folder.

    ``dynamics`` holds ``[LABEL=]FILE`` arguments; a result folder's own ``fairness.jsonl``
    is picked up as well, labelled with the run's name. Raises :class:`LeaderboardError`
    for any bad input, before anything is written.
    """

    if n_bootstrap < 0:
        raise LeaderboardError("--n-bootstrap must be >= 0")
    if not 0 < ci_level < 1:
        raise LeaderboardError("--ci-level must be between 0 and 1")
    if not 0 <= max_invalid <= 1:
        raise LeaderboardError(f"--max-invalid must be between 0 and 1, got {max_invalid}")
    inputs = [("result", folder) for folder in folders]
    check_replaceable(out, MANIFEST, protected=inputs, error=LeaderboardError)  # before the work
    found, skipped = find_result_folders(folders)
    runs = load_runs(found)
    comparison = comparability(runs, allow_mixed)
    sources = [
        dyn.read_dynamics(run.folder / DYNAMICS_FILE, run.name)
        for run in runs
        if (run.folder / DYNAMICS_FILE).is_file()
    ]
    sources += [dyn.read_dynamics(path, label) for label, path in map(dyn.parse_dynamics_argument, dynamics)]
    dyn.check_labels(sources)
    tables = compute_tables(
        runs, n_bootstrap=n_bootstrap, seed=seed, ci_level=ci_level, max_invalid=max_invalid
    )
    not_compared: dict[str, str] = {}
    if baseline:
        not_compared = mark_against_baseline(
            tables.leaderboard, runs, baseline, n_bootstrap=n_bootstrap, seed=seed, ci_level=ci_level
        )
        tables.baseline = baseline
    curves = dyn.dynamics_frame(sources) if sources else None
    dynamics_files = unique_slugs([s.label for s in sources])  # "x y" and "x-y" are two files
    run_names = [run.name for run in runs]
    board = tables.leaderboard
    unranked_reasons = dict(zip(board["run"], board["unranked"].where(board["unranked"].notna(), None)))
    other_split = dict(zip(board["run"], board["other_split"].notna()))
    figures = _figures(tables, run_names, curves, runs)
    manifest = {
        "format": MANIFEST_FORMAT,
        "title": title,
        "clinfair_version": __version__,
        "settings": {
            "n_bootstrap": n_bootstrap,
            "seed": seed,
            "ci_level": ci_level,
            "allow_mixed": allow_mixed,
            "max_invalid": max_invalid,
            "baseline": baseline,
            "not_compared_with_baseline": not_compared,
        },
        "comparison": comparison,
        "scopes": tables.scopes,
        "metrics": metric_definitions(),
        "runs": [
            {
                "run": run.name,
                "run_id": run.run_id,
                "model": run.model,
                "method": run.method,
                "tasks": run.tasks,
                "settings": run.settings,  # what changes the numbers (compared across runs)
                "flags": run.flags,
                "unranked": unranked_reasons.get(run.name),  # not ranked (on any column), and why
                "other_split": bool(other_split.get(run.name)),  # ... nor on any other column
                "files": [f"runs/{run.run_id}/{RESULTS_FILE}", f"runs/{run.run_id}/{PREDICTIONS_FILE}"],
            }
            for run in runs
        ],
        "dynamics": [
            {"label": s.label, "file": f"dynamics/{name}.jsonl", "evaluations": len(s.records)}
            for s, name in zip(sources, dynamics_files)
        ],
        "figures": [
            {
                "file": f.file,
                "kind": f.kind,
                "caption": f.caption,
                "scope": f.scope,
                "task": f.task,
                "attribute": f.attribute,
            }
            for f in figures
        ],
    }
    text_options = {"n_bootstrap": n_bootstrap, "ci_level": ci_level, "title": title}
    with atomic_folder(out, MANIFEST, protected=inputs, error=LeaderboardError) as tmp:
        atomic_write_parquet(tmp / "leaderboard.parquet", tables.leaderboard)
        atomic_write_parquet(tmp / "scores.parquet", tables.scores)
        atomic_write_parquet(tmp / "groups.parquet", tables.groups)
        _write_predictions(tmp / "predictions.parquet", combined_predictions(runs))
        atomic_write_text(tmp / "leaderboard.md", leaderboard_markdown(tables, **text_options))
        atomic_write_text(tmp / "paper_table.md", paper_markdown(tables, **text_options))
        for run in runs:
            atomic_write_json(tmp / "runs" / run.run_id / RESULTS_FILE, run.results)  # local paths replaced
            atomic_write_bytes(
                tmp / "runs" / run.run_id / PREDICTIONS_FILE, (run.folder / PREDICTIONS_FILE).read_bytes()
            )
        if curves is not None:
            atomic_write_parquet(tmp / "dynamics.parquet", curves)
            for source, entry in zip(sources, manifest["dynamics"]):
                atomic_write_text(tmp / entry["file"], source.text())
        for figure in figures:
            atomic_write_bytes(tmp / figure.file, figure.png)
        page = render_page(
            title=title,
            leaderboard=tables.leaderboard,
            scopes=tables.scopes,
            figures=figures,
            comparison=comparison,
            groups=tables.groups,
            n_bootstrap=n_bootstrap,
            ci_level=ci_level,
            clinfair_version=__version__,
            max_invalid=max_invalid,
        )
        atomic_write_text(tmp / "index.html", page)
        atomic_write_json(tmp / MANIFEST, manifest)
        files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
    warnings = [
        f"{s.path}: {s.dropped} record(s) of a step logged again were dropped (the last record of each "
        "step is kept)"
        for s in sources
        if s.dropped
    ]
    return BuildResult(
        out=Path(out),
        runs=runs,
        tables=tables,
        comparison=comparison,
        files=files,
        warnings=warnings,
        skipped=skipped,
    )


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a build folder, checked to be one this clinfair wrote."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise LeaderboardError(
            f"{folder} is not a leaderboard build (no {MANIFEST}); run `clinfair leaderboard build` first"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LeaderboardError(f"{path} is not valid JSON ({error})") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise LeaderboardError(
            f"{path} has format {manifest.get('format')!r}; this clinfair reads {MANIFEST_FORMAT!r}"
        )
    return manifest
