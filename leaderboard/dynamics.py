"""Training dynamics: the fairness values that ``clinfair.trainers.callbacks.FairnessCallback`` logs.

The callback appends one JSON object per evaluation to ``fairness.jsonl`` in the training
output folder. The fields read here (the callback's docstring documents them all):

``step``        int, the global optimisation step (0 = before training)
``method``      str, the training method (grpo, fairgrpo, ...)
``overall``     object: paper-protocol values by key (accuracy, f1, f1_gap, f1_std, f1_es, pp,
                eod, fpr_gap, ...); numbers, or null where undefined
``by_dataset``  optional object: the same keys per task

Any other field is ignored. A last line without its newline (a file being written, or a
run killed mid-write) is skipped, as ``clinfair eval`` does with its partial file; any other
bad line is an error naming the file and line. A step that appears more than once (a file
appended by a resumed or re-run training, before clinfair rewrote it on resume) keeps its
last record, and the dropped ones are counted (``DynamicsSource.dropped``): a curve never
goes through a step twice.

A file reaches the leaderboard from a result folder (``RESULT_DIR/fairness.jsonl``,
labelled with the run's name) or from ``clinfair leaderboard build --dynamics
[LABEL=]FILE`` (labelled LABEL, else the file's folder name for ``fairness.jsonl``, else
the file name without extension).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from clinfair.leaderboard.runs import LeaderboardError


@dataclass
class DynamicsSource:
    """One training-dynamics file and the curve label it is shown under."""

    label: str
    path: Path
    records: list[dict[str, Any]]  # one per step, in step order
    lines: list[str] | None = None  # the JSON line of each record, as read
    dropped: int = 0  # records of a step that a later record of the same step replaced

    def text(self) -> str:
        """The file as published: one line per kept record."""
        lines = self.lines if self.lines is not None else [json.dumps(r) for r in self.records]
        return "".join(line + "\n" for line in lines)


def _number(value: Any) -> bool:
    return value is None or (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    )


def _check_values(values: Any, where: str, field: str) -> None:
    if not isinstance(values, dict) or not all(_number(v) for v in values.values()):
        raise LeaderboardError(f"{where}: {field!r} must map metric names to numbers or null")


def read_dynamics(path: str | Path, label: str | None = None) -> DynamicsSource:
    """Read and check one JSONL file (see the module docstring for the format)."""
    path = Path(path)
    if not path.is_file():
        raise LeaderboardError(f"{path}: no such training-dynamics file")
    if label is None:
        label = path.parent.name if path.name == "fairness.jsonl" and path.parent.name else path.stem
    by_step: dict[int, tuple[dict[str, Any], str]] = {}
    read = 0
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    complete = lines[:-1]  # the piece after the last newline is empty, or an unfinished line
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise LeaderboardError(f"{where}: not valid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise LeaderboardError(f"{where}: expected a JSON object")
        step = record.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise LeaderboardError(f"{where}: 'step' must be a non-negative integer")
        if not isinstance(record.get("method"), str) or not record["method"]:
            raise LeaderboardError(f"{where}: 'method' must be a non-empty string")
        _check_values(record.get("overall"), where, "overall")
        by_dataset = record.get("by_dataset", {})
        if not isinstance(by_dataset, dict):
            raise LeaderboardError(f"{where}: 'by_dataset' must be an object")
        for task, values in by_dataset.items():
            _check_values(values, where, f"by_dataset.{task}")
        by_step.pop(step, None)  # the last record of a step wins
        by_step[step] = (record, line)
        read += 1
    if not by_step:
        raise LeaderboardError(f"{path}: no complete evaluation record")
    kept = [by_step[step] for step in sorted(by_step)]
    return DynamicsSource(
        label=label,
        path=path,
        records=[record for record, _ in kept],
        lines=[line for _, line in kept],
        dropped=read - len(kept),
    )


def parse_dynamics_argument(argument: str) -> tuple[str | None, Path]:
    """``LABEL=FILE`` or ``FILE`` (a path that itself contains ``=`` needs the LABEL form)."""
    label, sep, path = argument.partition("=")
    if sep and label and not Path(argument).exists():
        return label, Path(path)
    return None, Path(argument)


def check_labels(sources: Sequence[DynamicsSource]) -> None:
    seen: dict[str, Path] = {}
    for source in sources:
        if source.label in seen:
            raise LeaderboardError(
                f"{seen[source.label]} and {source.path} are both labelled {source.label!r}; "
                "name them with --dynamics LABEL=FILE"
            )
        seen[source.label] = source.path


def dynamics_frame(sources: Sequence[DynamicsSource]) -> pd.DataFrame:
    """Long table: curve ("label (method)"), label, method, step, scope, metric, value."""
    rows = []
    for source in sources:
        for record in source.records:
            curve = (
                f"{source.label} ({record['method']})" if record["method"] != source.label else source.label
            )
            blocks = {"overall": record["overall"], **record.get("by_dataset", {})}
            for scope, values in blocks.items():
                for metric, value in values.items():
                    rows.append(
                        {
                            "curve": curve,
                            "label": source.label,
                            "method": record["method"],
                            "step": record["step"],
                            "scope": scope,
                            "metric": metric,
                            "value": None if value is None else float(value),
                        }
                    )
    frame = pd.DataFrame(rows, columns=["curve", "label", "method", "step", "scope", "metric", "value"])
    frame["value"] = frame["value"].astype("float64")
    return frame.sort_values(["curve", "scope", "metric", "step"], kind="stable").reset_index(drop=True)
