"""``clinfair eval``: generate answers for prepared tasks, score them, write the results files.

An evaluation writes into one folder (DESIGN.md section 5):

* ``predictions.parquet`` — one row per example: ids, dataset, demographics, raw
  completion, parsed answer (``prediction``, null when invalid) and correctness;
* ``results.json`` — run settings and metrics (``benchmark.metrics.build_report``).

While it runs, finished batches are appended to ``predictions.partial.jsonl`` (flushed
and fsynced per batch) next to ``run.json``, the run's settings.

Under ``accelerate launch`` (several processes, e.g. one per GPU) the rows are sharded by
whole batches (process r takes batches r, r + n, ...: the same batches a single process
would run, so greedy answers do not depend on the number of processes); each process
appends to its own ``predictions.partial.rank<r>.jsonl``, and the main process merges them
into the one results folder. A resume reads every partial file, whatever the number of
processes then. Re-running the same
command resumes after the rows already written; a different command into the same
folder is refused. At the end both results files are written atomically and the partial
file is removed, so an interrupted-and-resumed run ends with the same files as an
uninterrupted one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.generation import Backend, GenerationSettings
from benchmark.io import atomic_write_json, atomic_write_parquet
from tasks.prompts import parse_answer
from tasks.registry import TaskSpec
from tasks.schema import group_key

RESULTS_SCHEMA_VERSION = 1
PREDICTIONS_FILE = "predictions.parquet"
RESULTS_FILE = "results.json"
PARTIAL_FILE = "predictions.partial.jsonl"
RUN_FILE = "run.json"
MODEL_FILE = "model.json"  # the loaded backend's description, kept until the run ends
DEMOGRAPHIC_COLUMNS = ("sex", "age", "age_group")


class ResumeMismatch(Exception):
    """The output folder holds a run with other settings."""


@dataclass(frozen=True)
class EvalRequest:
    """What defines a run: two runs with equal requests produce the same files."""

    model: str
    tasks: tuple[str, ...]
    split: str
    limit: int | None
    generation: GenerationSettings
    backend: str
    dtype: str
    revision: str | None = None
    run_name: str | None = None  # how the leaderboard names this run (default: the model)
    method: str | None = None  # training method that produced the checkpoint, e.g. fairgrpo
    scores: str = (
        "none"  # label probabilities per row: direct | after_reasoning | none (benchmark.generation)
    )

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "tasks": list(self.tasks), "split": self.split, "limit": self.limit,
                "generation": self.generation.to_dict(), "backend": self.backend, "dtype": self.dtype,
                "revision": self.revision, "run_name": self.run_name, "method": self.method,
                "scores": self.scores}  # fmt: skip


def task_rows(spec: TaskSpec, data_dir: Path, split: str, limit: int | None) -> Any:
    """The split of a prepared task (``data_dir/<task>``); synthetic is built when missing."""
    from tasks.prepare import load_prepared, prepare

    folder = data_dir / spec.key
    if not folder.exists():
        if spec.needs_raw:
            raise FileNotFoundError(
                f"no prepared data for {spec.key} at {folder}; run "
                f"`clinfair prepare {spec.key} --raw <download> --out {folder}` first"
            )
        prepare(spec, folder, progress=False)
    dataset = load_prepared(folder)
    if split not in dataset:
        raise FileNotFoundError(f"{folder} has no {split!r} split (it has {', '.join(dataset)})")
    rows = dataset[split]
    return rows.select(range(min(limit, len(rows)))) if limit is not None else rows


def prediction_record(spec: TaskSpec, index: int, row: dict[str, Any], completion: str,
                      scores: list[float] | None = None) -> dict[str, Any]:  # fmt: skip
    """One line of ``predictions``: the row's identity and demographics, and how it was answered
    (``scores``: the label probabilities, aligned with ``choices``, when the run scores labels)."""
    prediction = parse_answer(completion, row["choices"], spec.multi_label)
    attributes = {k: v for k, v in (row.get("attributes") or {}).items() if k != "_"}
    return {
        "id": row["id"], "dataset": spec.key, "split": row["split"], "index": index,
        "sex": row["sex"], "age": row["age"], "age_group": row["age_group"], "group": group_key(row),
        **{name: attributes.get(name) for name in spec.attributes},
        "choices": list(row["choices"]), "answer": list(row["answer"]), "completion": completion,
        "prediction": prediction, "valid": prediction is not None,
        "correct": prediction is not None and set(prediction) == set(row["answer"]),
        **({"scores": scores} if scores is not None else {}),
    }  # fmt: skip


def _read_partial(path: Path) -> list[dict[str, Any]]:
    """Rows written so far; a last line cut off by a kill is dropped (it is regenerated)."""
    if not path.exists():
        return []
    records = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break
            records.append(json.loads(line))
    return records


def _partial_files(out_dir: Path) -> list[Path]:
    """Every process's partial file (``predictions.partial.jsonl``, ``predictions.partial.rank<r>.jsonl``)."""
    return sorted(out_dir.glob("predictions.partial*.jsonl"))


def _partial_path(out_dir: Path, rank: int) -> Path:
    return out_dir / (PARTIAL_FILE if rank == 0 else f"predictions.partial.rank{rank}.jsonl")


def _read_partials(out_dir: Path) -> list[dict[str, Any]]:
    """The rows of every partial file, each (dataset, index) once."""
    records, seen = [], set()
    for path in _partial_files(out_dir):
        for record in _read_partial(path):
            key = (record["dataset"], record["index"])
            if key not in seen:
                seen.add(key)
                records.append(record)
    return records


def _distributed_state():
    """accelerate's process state under ``accelerate launch`` with several processes, else ``None``."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import PartialState

    return PartialState()


def _check_run_file(out_dir: Path, request: EvalRequest, overwrite: bool, write: bool = True) -> None:
    run_file = out_dir / RUN_FILE
    wanted = request.to_dict()
    if run_file.exists() and not overwrite:
        existing = json.loads(run_file.read_text())
        if existing != wanted:
            changed = sorted(k for k in wanted if existing.get(k) != wanted[k])
            raise ResumeMismatch(
                f"{out_dir} holds a run with different settings ({', '.join(changed)}); "
                "use another --out or pass --overwrite"
            )
        return
    if not write:  # another process starts the run
        return
    for path in _partial_files(out_dir):
        path.unlink()
    for name in (MODEL_FILE, PREDICTIONS_FILE, RESULTS_FILE):
        (out_dir / name).unlink(missing_ok=True)
    atomic_write_json(run_file, wanted)


def _batches(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def run_eval(
    request: EvalRequest,
    backend_factory,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    n_bootstrap: int = 1000,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate ``request`` and write the results files; returns the results dict.

    ``backend_factory()`` builds the generation backend; it is called only when rows are
    left to generate, so a finished run re-scores without loading the model.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from tasks.registry import get_task

    data_dir, out_dir = Path(data_dir), Path(out_dir)
    state = _distributed_state()
    rank, world = (state.process_index, state.num_processes) if state else (0, 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_run_file(out_dir, request, overwrite, write=rank == 0)
    if state:
        state.wait_for_everyone()
    specs = [get_task(key) for key in request.tasks]
    datasets = {spec.key: task_rows(spec, data_dir, request.split, request.limit) for spec in specs}
    records = _read_partials(out_dir)
    done = {(r["dataset"], r["index"]) for r in records}
    todo = {key: [i for i in range(len(rows)) if (key, i) not in done] for key, rows in datasets.items()}
    mine = {
        key: list(_batches(indices, request.generation.batch_size))[rank::world]
        for key, indices in todo.items()
    }
    if any(mine.values()):
        backend: Backend = backend_factory()
        if rank == 0:
            atomic_write_json(out_dir / MODEL_FILE, backend.describe())
        with _partial_path(out_dir, rank).open("a", encoding="utf-8") as sink, tqdm(
            total=sum(len(r) for r in datasets.values()), initial=len(records), desc="eval", unit="row",
            disable=not progress or rank != 0, dynamic_ncols=True,
        ) as bar:  # fmt: skip
            for spec in specs:
                rows = datasets[spec.key]
                for batch in mine[spec.key]:
                    batch_rows = [rows[i] for i in batch]
                    completions = backend.generate(batch_rows, spec.multi_label)
                    scores = (
                        backend.score(
                            batch_rows, spec.multi_label, mode=request.scores, completions=completions
                        )
                        if request.scores != "none"
                        else [None] * len(batch_rows)
                    )
                    new = [
                        prediction_record(spec, i, row, text, row_scores)
                        for i, row, text, row_scores in zip(batch, batch_rows, completions, scores)
                    ]
                    sink.write("".join(json.dumps(record) + "\n" for record in new))
                    sink.flush()
                    os.fsync(sink.fileno())
                    records.extend(new)
                    bar.update(len(new) * world)
    if state:
        state.wait_for_everyone()
        if rank != 0:  # the main process merges every process's rows and writes the results
            state.wait_for_everyone()
            return json.loads((out_dir / RESULTS_FILE).read_text())
        records = _read_partials(out_dir)
    order = {key: position for position, key in enumerate(request.tasks)}
    frame = pd.DataFrame(records)
    frame = frame.sort_values(["dataset", "index"], key=lambda c: c.map(order) if c.name == "dataset" else c)
    frame = frame.reset_index(drop=True)
    results = build_results(
        request, specs, frame, _model_description(out_dir, request), n_bootstrap=n_bootstrap
    )
    atomic_write_parquet(out_dir / PREDICTIONS_FILE, frame)
    atomic_write_json(out_dir / RESULTS_FILE, results)
    for path in _partial_files(out_dir):
        path.unlink()
    (out_dir / MODEL_FILE).unlink(missing_ok=True)
    if state:
        state.wait_for_everyone()
    return results


def build_results(request: EvalRequest, specs: Sequence[TaskSpec], frame, model: dict[str, Any], *,
                  n_bootstrap: int) -> dict[str, Any]:  # fmt: skip
    """The ``results.json`` document: settings, per-task counts and the metrics report."""
    from benchmark import __version__
    from benchmark.metrics import build_report

    label_spaces = {spec.key: list(spec.choices) for spec in specs}
    attribute_columns = sorted({name for spec in specs for name in spec.attributes})
    report = build_report(
        frame, label_spaces=label_spaces, n_bootstrap=n_bootstrap, seed=request.generation.seed
    )
    tasks = {}
    for spec in specs:
        rows = frame[frame["dataset"] == spec.key]
        tasks[spec.key] = {
            "rows": int(len(rows)),
            "split": request.split,
            "task_type": spec.task_type,
            "label_space": list(spec.choices),
            "invalid_answers": int((~rows["valid"]).sum()),
            "accuracy_exact": float(rows["correct"].mean()) if len(rows) else None,
            "null_demographics": {
                name: int(rows[name].isna().sum()) for name in (*DEMOGRAPHIC_COLUMNS, *spec.attributes)
            },
        }
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "clinfair_version": __version__,
        "protocol": "paper+standard",
        "model": model,
        "run": {"name": request.run_name or request.model, "method": request.method},
        "request": request.to_dict(),
        "seed": request.generation.seed,
        "attributes": ["sex", "age_group", *attribute_columns],
        "tasks": tasks,
        "metrics": report,
    }


def _model_description(out_dir: Path, request: EvalRequest) -> dict[str, Any]:
    """The loaded backend's description; a finished run re-scored without loading keeps its own."""
    for name, key in ((MODEL_FILE, None), (RESULTS_FILE, "model")):
        path = out_dir / name
        if path.exists():
            data = json.loads(path.read_text())
            return data[key] if key else data
    return {"backend": request.backend, "model": request.model, "revision": request.revision,
            "dtype": request.dtype, "device": None}  # fmt: skip
