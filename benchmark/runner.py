"""``clinfair eval``: generate answers for prepared tasks, score them, write the results files.

An evaluation writes into one folder (docs/design.md section 5):

* ``predictions.parquet`` — one row per example: ids, dataset, demographics, raw
  completion, parsed answer (``prediction``, null when invalid) and correctness;
* ``results.json`` — run settings and metrics (``clinfair.benchmark.metrics.build_report``).

While it runs, finished batches are appended to ``predictions.partial.jsonl`` (flushed
and fsynced per batch) next to ``run.json``: the run's settings and, per task, the number
and the content hash of the rows it reads (``clinfair.tasks.manifest``: every column, images included),
also recorded in ``results.json`` as each task's ``split_sha256``. Re-running
the same command resumes after the rows already written; a different command into the
same folder is refused, and so is a resume onto other data (the task re-prepared between
the kill and the resume), naming the task. A last line cut off by a kill is cut off the
file (and logged) and its rows generated again. At the end both results files are written
atomically and the partial file is removed, so an interrupted-and-resumed run ends with
the same files as an uninterrupted one; re-running a finished run re-scores its
``predictions.parquet`` without loading the model.

Nothing is written into the folder before the model has loaded: a run that fails to start
(a mistyped model, missing data) leaves nothing that blocks the corrected command, and
``--overwrite`` removes the previous results only then. A ``run.json`` beside no rows (a
run that stopped before its first batch) blocks nothing either: the next run starts afresh.

Under ``accelerate launch`` (several processes, e.g. one per GPU) the rows are sharded by
whole batches (process r takes batches r, r + n, ...: the same batches a single process
would run, so greedy answers do not depend on the number of processes); each process
appends to its own ``predictions.partial.rank<r>.jsonl``, and the main process merges them
into the one results folder. A resume reads every partial file, whatever the number of
processes then.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from clinfair.benchmark.bootstrap import N_BOOTSTRAP
from clinfair.benchmark.generation import (
    Backend,
    GenerationSettings,
    SettingsError,
    chat_template_of,
    slow_start_hint,
)
from clinfair.benchmark.metrics import build_report
from clinfair.tasks.attributes import default_attributes, resolve_attributes
from clinfair.tasks.manifest import check_split, rows_fingerprint
from clinfair.tasks.prepare import task_rows
from clinfair.tasks.prompts import build_prompt, prediction_record
from clinfair.tasks.registry import get_task
from clinfair.tasks.schema import TOP_LEVEL_DEMOGRAPHICS
from clinfair.tasks.spec import TaskSpec
from tqdm.auto import tqdm

from clinfair.core.errors import ClinfairError, one_line
from clinfair.core.hub import public_model_name
from clinfair.core.io import atomic_write_json, atomic_write_parquet, output_lock
from clinfair.core.version import __version__

RESULTS_SCHEMA_VERSION = 1
PREDICTIONS_FILE = "predictions.parquet"
#: The columns of predictions.parquet that its readers (compare, the leaderboard) need.
PREDICTION_COLUMNS = ("id", "dataset", "answer", "prediction", "sex", "age_group")
RESULTS_FILE = "results.json"
PARTIAL_FILE = "predictions.partial.jsonl"
RUN_FILE = "run.json"
MODEL_FILE = "model.json"  # the loaded backend's description, kept until the run ends

logger = logging.getLogger(__name__)


class EvalError(ClinfairError):
    """A problem with the run's output folder; the message is one line."""


class ResumeMismatch(EvalError):
    """The output folder holds a run with other settings, or started on other data."""


def text_sha256(text: str | None) -> str | None:
    """The sha256 (hex) of a text's UTF-8 bytes; None for None."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def prompt_template_sha256() -> str:
    """The hash of the prompt clinfair builds around each question (``clinfair.tasks.prompts.build_prompt``:
    options line, answer-count sentence and format instruction), single- and multi-label, with
    placeholders for the question and options: it changes exactly when the prompt's wording does."""
    single = build_prompt("{question}", ["{option 1}", "{option 2}"], multi_label=False)
    multi = build_prompt("{question}", ["{option 1}", "{option 2}"], multi_label=True)
    return text_sha256(f"{single}\n\0\n{multi}")


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
    run_name: str | None = None  # the run's name on the leaderboard (default: public_model_name(model))
    method: str | None = None  # training method that produced the checkpoint, e.g. fairgrpo
    scores: str = (
        "none"  # label probabilities per row: direct | after_reasoning | none (clinfair.benchmark.generation)
    )
    chat_template_sha256: str | None = None  # sha256 of the --chat-template text; None: the checkpoint's own
    max_images_per_prompt: int = 4  # the image limit per row (vLLM refuses rows with more)

    def __post_init__(self) -> None:
        if self.limit is not None and not (isinstance(self.limit, int) and self.limit >= 1):
            raise SettingsError(f"limit must be None or at least 1 (got {self.limit})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "tasks": list(self.tasks),
            "split": self.split,
            "limit": self.limit,
            "generation": self.generation.to_dict(),
            "backend": self.backend,
            "dtype": self.dtype,
            "revision": self.revision,
            "run_name": self.run_name,
            "method": self.method,
            "scores": self.scores,
            "chat_template_sha256": self.chat_template_sha256,
            "max_images_per_prompt": self.max_images_per_prompt,
            "prompt_template_sha256": prompt_template_sha256(),
        }


#: How a resume's refusal names each setting of :meth:`EvalRequest.to_dict` (``generation.X``: ``--X``).
SETTING_NAMES = {
    "chat_template_sha256": "--chat-template (its content)",
    "prompt_template_sha256": "the prompt template (another clinfair version)",
    "generation.greedy": "--temperature (greedy or sampled)",
}


def setting_name(key: str) -> str:
    """The flag (or thing) a setting key of the run document stands for, e.g. ``--max-new-tokens``."""
    return SETTING_NAMES.get(key) or "--" + key.split(".")[-1].replace("_", "-")


def changed_settings(before: dict[str, Any], now: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, before, now)`` of every setting that differs between two run documents; the keys of
    ``generation`` are compared one by one (``generation.max_new_tokens``). ``data`` is not a setting."""

    def flat(document: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in document.items():
            if key == "data":
                continue
            if key == "generation" and isinstance(value, dict):
                out.update({f"generation.{k}": v for k, v in value.items()})
            else:
                out[key] = value
        return out

    old, new = flat(before), flat(now)
    return [
        (key, old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


def _shown(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:  # a sha256
        return value[:12]
    return "none" if value is None else str(value)


def duplicate_examples(frame) -> str | None:
    """None when no example appears twice in a predictions table, else one line saying which.

    An example is its ``(dataset, id)``; without an ``id`` column nothing can be checked. The
    line counts the extra rows and names the first repeated example with its row numbers
    (1-based): a predictions file that holds an example twice would count it twice.
    """

    if "id" not in frame.columns:
        return None
    dataset = frame["dataset"] if "dataset" in frame.columns else pd.Series([None] * len(frame))
    keys = pd.DataFrame(
        {"dataset": dataset.astype(object).fillna("").to_numpy(), "id": frame["id"].astype(str).to_numpy()}
    )
    repeated = keys.duplicated(keep=False)
    if not repeated.any():
        return None
    first = keys[repeated].iloc[0]
    rows = keys.index[(keys["dataset"] == first["dataset"]) & (keys["id"] == first["id"])] + 1
    where = f" of {first['dataset']}" if first["dataset"] else ""
    return (
        f"{int(keys.duplicated().sum()):,} row(s) repeat an example (id {first['id']!r}{where} is at rows "
        f"{', '.join(map(str, rows[:5]))}); each example must appear once, or it is counted twice"
    )


def _read_partial(path: Path) -> list[dict[str, Any]]:
    """Rows written so far.

    A last line cut off by a kill (no newline), or a line that is not a JSON object, is cut
    off the file with everything after it, and logged: those rows are generated again, and
    the next batch is appended after a complete line (appending after a torn one made the
    file unreadable).
    """
    if not path.exists():
        return []
    records, kept = [], 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                record = json.loads(line) if line.endswith(b"\n") else None
            except ValueError:
                record = None
            if not isinstance(record, dict):
                cut = path.stat().st_size - kept
                logger.warning(
                    f"{path}: line {number} is incomplete or damaged (a run killed while writing it); "
                    f"cut off {cut} bytes from there on, those rows are generated again"
                )
                break
            records.append(record)
            kept += len(line)
    if kept < path.stat().st_size:
        os.truncate(path, kept)
    return records


def _partial_files(out_dir: Path) -> list[Path]:
    """Every process's partial file (``predictions.partial.jsonl``, ``predictions.partial.rank<r>.jsonl``)."""
    return sorted(out_dir.glob("predictions.partial*.jsonl"))


def _partial_path(out_dir: Path, rank: int) -> Path:
    return out_dir / (PARTIAL_FILE if rank == 0 else f"predictions.partial.rank{rank}.jsonl")


def _unique(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each (dataset, index) once, the first kept."""
    unique: dict[tuple[str, int], dict[str, Any]] = {}
    for record in records:
        unique.setdefault((record["dataset"], record["index"]), record)
    return list(unique.values())


def _read_partials(out_dir: Path) -> list[dict[str, Any]]:
    """The rows of every process's partial file."""
    return _unique([record for path in _partial_files(out_dir) for record in _read_partial(path)])


def _distributed_state():
    """accelerate's process state under ``accelerate launch`` with several processes, else ``None``."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import PartialState

    return PartialState()


def _read_finished(path: Path) -> list[dict[str, Any]]:
    """The rows of a finished run's ``predictions.parquet``, as the partial file holds them."""

    return pq.read_table(path).to_pylist()


def _writable_folder(out_dir: Path) -> bool:
    """Create ``out_dir`` if needed and check that files can be written in it; True if created here."""
    existed = out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out_dir, prefix=".clinfair-write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise EvalError(f"cannot write to --out {out_dir}: {one_line(error)}") from None
    return not existed


def _earlier_rows(
    out_dir: Path, request: EvalRequest, data: dict[str, Any], ids: dict[str, list[str]], overwrite: bool
) -> list[dict[str, Any]]:
    """The rows an earlier run of the same request on the same data left in ``out_dir`` (none: start afresh).

    Raises :class:`ResumeMismatch` when the folder holds rows of another request, of other
    data (naming the task) or of a run it cannot identify. A ``run.json`` without rows (a
    start that failed) does not count: the run starts afresh.
    """
    run_file = out_dir / RUN_FILE
    leftovers = [path.name for path in _partial_files(out_dir)]
    leftovers += [name for name in (PREDICTIONS_FILE, RESULTS_FILE) if (out_dir / name).exists()]
    if overwrite or not leftovers:
        return []
    if not run_file.exists():
        raise ResumeMismatch(
            f"{out_dir} holds {', '.join(leftovers)} of a run without {RUN_FILE}, which "
            "clinfair cannot identify; use another --out or pass --overwrite"
        )
    try:
        existing = json.loads(run_file.read_text(encoding="utf-8"))
        records = (
            _read_partials(out_dir)
            if _partial_files(out_dir)
            else (_read_finished(out_dir / PREDICTIONS_FILE) if (out_dir / PREDICTIONS_FILE).exists() else [])
        )
    except (OSError, ValueError) as error:
        raise ResumeMismatch(
            f"{out_dir} holds a damaged run ({one_line(error)}); use another --out or pass --overwrite"
        ) from None
    if not records:
        return []
    changed = changed_settings(existing, request.to_dict())
    if changed:
        key, before, now = changed[0]
        keys = ", ".join(k for k, _, _ in changed)
        raise ResumeMismatch(
            f"{out_dir} holds a run with different settings ({keys}): {setting_name(key)} was {_shown(before)}, "
            f"now {_shown(now)}; a run is one set of settings: resume with the same ones, use another --out "
            "or pass --overwrite"
        )
    started_on = existing.get("data") or {}  # absent in run.json files of clinfair <= 0.1.0
    unique = _unique(records)
    stale = {task for task in data if task in started_on and started_on[task] != data[task]}
    stale |= {
        record["dataset"]
        for record in unique
        if record["dataset"] not in ids
        or not record["index"] < len(ids[record["dataset"]])
        or ids[record["dataset"]][record["index"]] != str(record["id"])
    }
    if stale:
        task = sorted(stale)[0]
        raise ResumeMismatch(
            f"{out_dir} holds a run started on other {task} data: the prepared {task} rows have changed since "
            "(re-prepared?), and resuming would mix two datasets in one result; use another --out, or pass "
            "--overwrite to start over"
        )
    return unique


def _batches(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def run_eval(
    request: EvalRequest,
    backend_factory,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    overwrite: bool = False,
    progress: bool = True,
    attributes: str | Sequence[str] | None = None,
) -> dict[str, Any]:
    """Evaluate ``request`` and write the results files; returns the results dict.

    ``backend_factory()`` builds the generation backend; it is called only when rows are
    left to generate, so a finished run re-scores without loading the model.
    ``attributes`` chooses the per-group attributes (``clinfair.tasks.attributes``; default: sex,
    age_group, sex*age_group and every attribute of the tasks). It only changes the scoring,
    so it is not part of the request: a finished run re-scored with other attributes is not
    refused.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    created = _writable_folder(out_dir)
    # one writer per folder: the main process holds the lock (under accelerate, its peers write beside it)
    main_process = int(os.environ.get("RANK", "0")) == 0
    try:
        with output_lock(out_dir) if main_process else contextlib.nullcontext():
            return _run_eval(
                request,
                backend_factory,
                data_dir,
                out_dir,
                n_bootstrap=n_bootstrap,
                overwrite=overwrite,
                progress=progress,
                attributes=attributes,
            )
    except BaseException:
        if created and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()  # a start that failed leaves no trace
        raise


def _run_eval(
    request: EvalRequest,
    backend_factory,
    data_dir: Path,
    out_dir: Path,
    *,
    n_bootstrap: int,
    overwrite: bool,
    progress: bool,
    attributes: str | Sequence[str] | None,
) -> dict[str, Any]:

    specs = [get_task(key) for key in request.tasks]
    chosen = resolve_attributes(attributes, specs)  # before anything loads: a typo costs nothing
    datasets = {spec.key: task_rows(spec, data_dir, request.split, request.limit) for spec in specs}
    data, ids = {}, {}
    for key, rows in datasets.items():
        digest, ids[key] = rows_fingerprint(rows)
        data[key] = {"rows": len(rows), "sha256": digest}
        if request.limit is None:  # the whole split: still the rows prepare pinned?
            check_split(data_dir / key, request.split, digest)
    run_document = {**request.to_dict(), "data": data}
    state = _distributed_state()
    rank, world = (state.process_index, state.num_processes) if state else (0, 1)
    records = _earlier_rows(out_dir, request, data, ids, overwrite)
    resumed = bool(records)
    done = {(r["dataset"], r["index"]) for r in records}
    todo = {key: [i for i in range(len(rows)) if (key, i) not in done] for key, rows in datasets.items()}
    mine = {
        key: list(_batches(indices, request.generation.batch_size))[rank::world]
        for key, indices in todo.items()
    }
    if any(todo.values()):
        backend: Backend | None = backend_factory() if any(mine.values()) else None
        if rank == 0:
            if not resumed:  # the model loaded: only now does a new run replace what the folder held
                for path in _partial_files(out_dir):
                    path.unlink()
                for name in (MODEL_FILE, PREDICTIONS_FILE, RESULTS_FILE):
                    (out_dir / name).unlink(missing_ok=True)
            atomic_write_json(out_dir / RUN_FILE, run_document)
            if backend is not None:
                description = {**backend.describe(), **_chat_template_in_use(backend, request)}
                if resumed:
                    _check_same_chat_template(out_dir, description)
                atomic_write_json(out_dir / MODEL_FILE, description)
        if state:
            state.wait_for_everyone()
        if backend is not None:
            with (
                _partial_path(out_dir, rank).open("a", encoding="utf-8") as sink,
                tqdm(
                    total=sum(len(r) for r in datasets.values()),
                    initial=len(records),
                    desc="eval",
                    unit="row",
                    disable=not progress or rank != 0,
                    dynamic_ncols=True,
                ) as bar,
            ):
                started, hinted = time.perf_counter(), rank != 0
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
                        if not hinted:  # one line after a slow first batch, never more
                            hinted = True
                            hint = slow_start_hint(
                                time.perf_counter() - started,
                                len(new),
                                sum(len(b) for batches in mine.values() for b in batches) - len(new),
                                request.generation.max_new_tokens,
                            )
                            if hint:
                                tqdm.write(f"clinfair eval: {hint}", file=sys.stderr)
    if state:  # the main process merges every process's rows and writes the results
        state.wait_for_everyone()
        if rank != 0:
            state.wait_for_everyone()
            return json.loads((out_dir / RESULTS_FILE).read_text(encoding="utf-8"))
        records = _unique(records + _read_partials(out_dir))
    order = {key: position for position, key in enumerate(request.tasks)}
    frame = pd.DataFrame(records)
    frame = frame.sort_values(["dataset", "index"], key=lambda c: c.map(order) if c.name == "dataset" else c)
    frame = frame.reset_index(drop=True)
    results = build_results(
        request,
        specs,
        frame,
        _model_description(out_dir, request),
        n_bootstrap=n_bootstrap,
        attributes=chosen,
        split_hashes={key: entry["sha256"] for key, entry in data.items()},
    )
    atomic_write_json(out_dir / RUN_FILE, run_document)
    atomic_write_parquet(out_dir / PREDICTIONS_FILE, frame)
    atomic_write_json(out_dir / RESULTS_FILE, results)
    for path in _partial_files(out_dir):
        path.unlink()
    (out_dir / MODEL_FILE).unlink(missing_ok=True)
    if state:
        state.wait_for_everyone()
    return results


def majority_baseline(answers) -> float | None:
    """The exact-match accuracy of always giving the most common answer (set of labels) of these rows."""

    keys = pd.Series([tuple(sorted(answer)) for answer in answers], dtype=object)
    return float(keys.value_counts(normalize=True).iloc[0]) if len(keys) else None


def build_results(
    request: EvalRequest,
    specs: Sequence[TaskSpec],
    frame,
    model: dict[str, Any],
    *,
    n_bootstrap: int,
    attributes: Sequence[str] | None = None,
    split_hashes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ``results.json`` document: settings, per-task counts and the metrics report.

    ``attributes``: the per-group attributes and intersections (default
    ``clinfair.tasks.attributes.default_attributes``); ``results["attributes"]`` records them.
    ``split_hashes``: per task, the content hash of the rows evaluated (``clinfair.tasks.manifest``),
    recorded as ``tasks.<task>.split_sha256``.
    """

    label_spaces = {spec.key: list(spec.choices) for spec in specs}
    chosen = list(attributes) if attributes is not None else default_attributes(specs)
    report = build_report(
        frame,
        label_spaces=label_spaces,
        attributes=chosen,
        n_bootstrap=n_bootstrap,
        seed=request.generation.seed,
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
            "invalid_rate": float((~rows["valid"]).mean()) if len(rows) else None,
            "accuracy_exact": float(rows["correct"].mean()) if len(rows) else None,
            "majority_baseline": majority_baseline(rows["answer"]),
            "split_sha256": (split_hashes or {}).get(spec.key),
            "null_demographics": {
                name: int(rows[name].isna().sum()) for name in (*TOP_LEVEL_DEMOGRAPHICS, *spec.attributes)
            },
        }
    return {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "clinfair_version": __version__,
        "protocol": "paper+standard",
        "model": model,
        "run": {"name": request.run_name or public_model_name(request.model), "method": request.method},
        "request": request.to_dict(),
        "settings": run_settings(request, model, split_hashes),
        "seed": request.generation.seed,
        "attributes": chosen,
        "tasks": tasks,
        "metrics": report,
    }


def _chat_template_in_use(backend, request: EvalRequest) -> dict[str, Any]:
    """The chat template the loaded backend renders with: its hash and where it came from
    (``--chat-template``, the ``checkpoint``'s own, or the ``plain`` prompt of a checkpoint without one)."""

    processor = getattr(backend, "processor", None)
    if processor is None and getattr(backend, "llm", None) is not None:  # vLLM
        processor = backend.llm.get_tokenizer()
    template = chat_template_of(processor) if processor is not None else None
    if request.chat_template_sha256:
        source = "--chat-template"
    elif template is None:
        source = None
    else:
        source = "plain" if getattr(backend, "plain_prompt", False) else "checkpoint"
    return {
        "chat_template_sha256": text_sha256(template) or request.chat_template_sha256,
        "chat_template_source": source,
    }


def _check_same_chat_template(out_dir: Path, description: dict[str, Any]) -> None:
    """A resumed run renders with the chat template it started with (the checkpoint's own may have changed)."""
    try:
        started = json.loads((out_dir / MODEL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # model.json is written only once a run starts; a run.json beside rows decides
    before, now = started.get("chat_template_sha256"), description.get("chat_template_sha256")
    if before and now and before != now:
        raise ResumeMismatch(
            f"{out_dir} holds a run made with another chat template ({before[:12]}, now {now[:12]}: the "
            f"{description.get('chat_template_source') or 'checkpoint'}'s template changed); a run is one set of "
            "settings: use another --out or pass --overwrite"
        )


def run_settings(
    request: EvalRequest, model: dict[str, Any], split_hashes: dict[str, str] | None
) -> dict[str, Any]:
    """``results.json``'s ``settings``: every setting that changes the numbers, flat, for readers that
    compare runs (the leaderboard ranks together only runs whose settings agree).

    ``dtype`` is the loaded weights' (``auto`` resolved) when known; ``chat_template_sha256`` is the
    sha256 of the template the model was prompted with, and ``chat_template_source`` where it came
    from (``--chat-template``, ``checkpoint``, ``plain``; None when unknown); ``prompt_template_sha256``
    the hash of clinfair's prompt around each question; ``data_sha256`` each task's rows.
    """
    generation = request.generation
    return {
        "model": request.model,
        "revision": request.revision,
        "dtype": model.get("dtype") or request.dtype,
        "backend": request.backend,
        "max_new_tokens": generation.max_new_tokens,
        "temperature": generation.temperature,
        "top_p": generation.top_p,
        "do_sample": not generation.greedy,
        "seed": generation.seed,
        "prompt_template_sha256": prompt_template_sha256(),
        "chat_template_sha256": model.get("chat_template_sha256") or request.chat_template_sha256,
        "chat_template_source": model.get("chat_template_source")
        or ("--chat-template" if request.chat_template_sha256 else None),
        "scores": request.scores,
        "max_images_per_prompt": request.max_images_per_prompt,
        "split": request.split,
        "limit": request.limit,
        "data_sha256": dict(split_hashes or {}),
    }


def _model_description(out_dir: Path, request: EvalRequest) -> dict[str, Any]:
    """The loaded backend's description; a finished run re-scored without loading keeps its own."""
    for name, key in ((MODEL_FILE, None), (RESULTS_FILE, "model")):
        path = out_dir / name
        if path.exists():
            data = json.loads(path.read_text())
            return data[key] if key else data
    return {
        "backend": request.backend,
        "model": request.model,
        "revision": request.revision,
        "dtype": request.dtype,
        "device": None,
    }
