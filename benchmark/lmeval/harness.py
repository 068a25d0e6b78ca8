"""The functions clinfair's lm-eval task YAMLs call, and the writer of those YAMLs.

A task is one YAML per clinfair task (``clinfair_<key>``) plus a shared base
(``_clinfair_base.yaml``). The base points lm-eval at the functions below, so a prompt,
a parse and a score are the ones ``clinfair eval`` uses:

* :func:`load_docs` (``custom_dataset``) reads the prepared dataset folder through
  ``clinfair.tasks.prepare.task_rows``: the same rows, the same missing-data message, and the
  synthetic task built on first use, as ``clinfair eval``;
* :func:`doc_to_text` is ``clinfair.tasks.prompts.build_prompt`` after one ``<image>`` placeholder
  per image; with ``--apply_chat_template`` lm-eval turns that into the conversation
  ``clinfair.tasks.prompts.build_messages`` gives (images first, then the text) and runs the
  processor's chat template on it, as ``clinfair.benchmark.generation.HFBackend`` does;
* :func:`process_results` parses with ``clinfair.tasks.prompts.parse_answer``.

**How demographics reach the aggregation.** lm-eval hands an aggregation function only
the list of per-sample values of its metric. So each ``paper_*`` metric's per-sample value
is a small record — dataset, answer, parsed prediction, sex, age group — and each
aggregation rebuilds the predictions table from the records and runs
``clinfair.benchmark.metrics.paper_protocol`` on it, returning one paper key. An undefined value
(e.g. a gap when fewer than two groups have rows) is NaN, which lm-eval prints as ``nan``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from clinfair.benchmark.metrics import PAPER_KEYS, get_metric, paper_protocol, select_metrics
from clinfair.benchmark.metrics.registry import PAPER, RUN
from clinfair.tasks.prepare import default_data_dir, task_rows
from clinfair.tasks.prompts import build_prompt, is_correct, parse_answer
from clinfair.tasks.registry import get_task, include_paths, list_tasks
from clinfair.tasks.spec import CONFIG_DIR

from clinfair.core.io import atomic_write_text

#: lm-eval's image placeholder (``lm_eval.models.hf_vlms.DEFAULT_IMAGE_PLACEHOLDER``).
IMAGE_PLACEHOLDER = "<image>"
TASK_PREFIX = "clinfair_"
BASE_FILE = "_clinfair_base.yaml"
_THIS_MODULE = __name__


# --------------------------------------------------------------------------------------
# What the task YAMLs call
# --------------------------------------------------------------------------------------


def load_docs(
    clinfair_task: str,
    clinfair_data: str | None = None,
    clinfair_split: str = "test",
    clinfair_include_path: str | None = None,
    **_lm_eval_metadata: Any,
) -> dict[str, Any]:
    """The split of a prepared task, as ``{split: datasets.Dataset}`` (lm-eval's ``custom_dataset``).

    ``clinfair_data`` is the folder holding ``<task>/`` prepared datasets; ``None`` means
    ``$CLINFAIR_DATA`` or ``./data``, read now, as ``clinfair eval`` does. A user's own task
    (``clinfair lm-eval-tasks --include-path DIR``) names the folder of its YAML in
    ``clinfair_include_path``, registered here first. lm-eval also passes the task's and the
    run's metadata (version, model arguments): ignored.
    """

    include_paths(clinfair_include_path)

    data_dir = Path(clinfair_data if clinfair_data is not None else default_data_dir())
    try:
        rows = task_rows(get_task(clinfair_task), data_dir, clinfair_split, None)
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"lm-eval task {TASK_PREFIX}{clinfair_task}: {error}. This task folder reads prepared data from "
            f"{data_dir.resolve()}; write one for another folder with `clinfair lm-eval-tasks --out DIR --data DATA` "
            "(or set $CLINFAIR_DATA for the shipped folder)."
        ) from None
    return {clinfair_split: rows}


def _multi_label(doc: dict[str, Any]) -> bool:
    return get_task(doc["dataset"]).multi_label


def doc_to_text(doc: dict[str, Any]) -> str:
    """One image placeholder per image, then ``clinfair eval``'s user prompt."""
    prompt = build_prompt(doc["question"], doc["choices"], _multi_label(doc))
    return IMAGE_PLACEHOLDER * len(doc["images"]) + prompt


def doc_to_image(doc: dict[str, Any]) -> list:
    """The row's images in RGB, as ``HFBackend`` passes them to the processor."""
    from clinfair.tasks.images import to_rgb

    return [to_rgb(image) for image in doc["images"]]


def doc_to_target(doc: dict[str, Any]) -> str:
    """The ground truth as text (lm-eval logs it beside each sample; scoring uses the list)."""
    return ", ".join(doc["answer"])


def process_results(doc: dict[str, Any], results: Sequence[str]) -> dict[str, Any]:
    """Parse the completion; every ``paper_*`` value is the row's record (see the module docstring)."""
    prediction = parse_answer(results[0], doc["choices"], _multi_label(doc))
    record = {
        "dataset": doc["dataset"],
        "id": doc["id"],
        "answer": list(doc["answer"]),
        "prediction": prediction,
        "sex": doc["sex"],
        "age_group": doc["age_group"],
    }
    correct = is_correct(prediction, doc["answer"])
    return {
        "exact_match": float(correct),
        "invalid": float(prediction is None),
        **{f"paper_{key}": record for key in PAPER_KEYS},
    }


def _paper_protocol(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``clinfair.benchmark.metrics.paper_protocol`` of per-sample records.

    The label spaces are the registry's, as in ``clinfair eval``'s results: the protocol
    does not depend on them, but the label order fixes the order of floating-point sums,
    so the values match ``results.json`` to the last bit.
    """

    frame = pd.DataFrame.from_records(list(records))
    label_spaces = {name: list(get_task(name).choices) for name in frame["dataset"].unique()}
    return paper_protocol(frame, label_spaces=label_spaces)


def _paper_value(records: Sequence[dict[str, Any]], key: str) -> float:
    """One paper key of the task's dataset (lm-eval aggregates each task on its own records)."""
    value = _paper_protocol(records)["by_dataset"][records[0]["dataset"]][key]
    return math.nan if value is None else float(value)


def _paper_aggregation(key: str) -> Callable[[Sequence[dict[str, Any]]], float]:
    def aggregate(records: Sequence[dict[str, Any]]) -> float:
        return _paper_value(records, key)

    aggregate.__name__ = aggregate.__qualname__ = f"paper_{key}"
    aggregate.__doc__ = f"Paper-protocol {key!r} of the per-sample records (lm-eval aggregation)."
    return aggregate


# One aggregation per paper key of the registry: the YAMLs name them as `!function ...harness.paper_<key>`.
for _metric in select_metrics(PAPER):
    globals()[f"paper_{_metric.key}"] = _paper_aggregation(_metric.key)
del _metric


# --------------------------------------------------------------------------------------
# Writing the task folder
# --------------------------------------------------------------------------------------


def _base_yaml(max_gen_toks: int) -> str:
    def function(name: str) -> str:
        return f"!function {_THIS_MODULE}.{name}"

    def entry(name: str, aggregation: str, higher_is_better: bool) -> str:
        return f"  - metric: {name}\n    aggregation: {aggregation}\n    higher_is_better: {str(higher_is_better).lower()}"

    # Per-sample means (process_results), then one paper-protocol aggregation per paper key.
    metrics = [
        entry(key, "mean", get_metric(RUN, key).higher_is_better) for key in ("exact_match", "invalid")
    ]
    metrics += [
        entry(f"paper_{m.key}", function(f"paper_{m.key}"), m.higher_is_better) for m in select_metrics(PAPER)
    ]
    return f"""\
# Shared by every clinfair_* task: written by `clinfair lm-eval-tasks`, do not edit by hand.
# Run with --apply_chat_template (the prompt clinfair eval uses is a chat turn) and the
# batch size you compare with (clinfair eval's default is 8).
tag: clinfair
custom_dataset: {function("load_docs")}
output_type: generate_until
doc_to_text: {function("doc_to_text")}
doc_to_image: {function("doc_to_image")}
doc_to_target: {function("doc_to_target")}
process_results: {function("process_results")}
generation_kwargs:
  until: []           # stop at the end-of-turn token only, as clinfair eval
  do_sample: false    # greedy, as clinfair eval's default
  max_gen_toks: {max_gen_toks}
metric_list:
{chr(10).join(metrics)}
metadata:
  version: 1.0
"""


def _task_yaml(key: str, name: str, data_dir: Path | None, split: str, include: Path | None = None) -> str:
    data = "null  # $CLINFAIR_DATA, or ./data, at run time" if data_dir is None else json.dumps(str(data_dir))
    user = (
        ""
        if include is None
        else f"  clinfair_include_path: {json.dumps(str(include))}  # your task's YAML\n"
    )
    return f"""\
# clinfair task {key!r} ({name}); written by `clinfair lm-eval-tasks`.
include: {BASE_FILE}
task: {TASK_PREFIX}{key}
test_split: {split}
dataset_kwargs:
  clinfair_task: {key}
  clinfair_data: {data}
  clinfair_split: {split}
{user}"""


def _user_folder(spec) -> Path | None:
    """The folder of a task added with ``--include-path`` (None for a built-in task)."""

    if spec.origin is None or Path(spec.origin).parent.resolve() == CONFIG_DIR.resolve():
        return None
    return Path(spec.origin).parent.resolve()


def write_task_folder(
    out_dir: str | Path, data_dir: str | Path | None = None, *, split: str = "test", max_gen_toks: int = 512
) -> list[Path]:
    """Write the base YAML and one ``clinfair_<key>.yaml`` per registered task (a user's own tasks
    too, when registered with ``--include-path``); returns their paths.

    ``data_dir`` is the folder of prepared datasets (``DATA/<task>``), stored as an absolute
    path; ``None`` leaves it to ``$CLINFAIR_DATA`` or ``./data`` at run time. Other files
    in ``out_dir`` are left alone.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = None if data_dir is None else Path(data_dir).resolve()
    files = {BASE_FILE: _base_yaml(max_gen_toks)}
    files |= {
        f"{TASK_PREFIX}{spec.key}.yaml": _task_yaml(spec.key, spec.name, data, split, _user_folder(spec))
        for spec in list_tasks()
    }
    written = []
    for name, text in files.items():
        atomic_write_text(out_dir / name, text)  # a full disk leaves the previous file, not half of one
        written.append(out_dir / name)
    return written
