"""A ``clinfair eval`` result folder, read: :meth:`EvalResult.load` is the one way every reader
(``clinfair compare``, the leaderboard, ``clinfair study``, ``clinfair demo``) opens one.

A result folder holds ``results.json`` (the run's settings, per-task counts and the metrics report)
and ``predictions.parquet`` (one row per example), both written by ``clinfair.benchmark.runner``.
:meth:`EvalResult.load` reads and checks ``results.json`` at once and reads the predictions only
when asked (:attr:`EvalResult.predictions`, or :meth:`EvalResult.read_predictions` for a few
columns). Anything that makes a folder unusable is a :class:`ResultFolderError` of one line naming
the folder or file: no ``results.json`` (an unfinished run is named as such), not JSON, not a
clinfair results file or one of a newer results schema, no task with a label space, no
``predictions.parquet``, a predictions file that is truncated, lacks a column, or holds an example
twice. What a reader needs beyond that (the leaderboard's complete paper protocol, values
recomputed from the rows) it checks itself, on top of this.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from clinfair.benchmark.runner import (
    PARTIAL_FILE,
    PREDICTION_COLUMNS,
    PREDICTIONS_FILE,
    RESULTS_FILE,
    RESULTS_SCHEMA_VERSION,
    duplicate_examples,
)

from clinfair.core.errors import ClinfairError, one_line


class ResultFolderError(ClinfairError):
    """A folder that is not a finished, readable ``clinfair eval`` output; one line naming it."""


@dataclass
class EvalResult:
    """One ``clinfair eval`` output folder: ``results.json`` as read, and its predictions on demand.

    Parameters:
        folder (`Path`):
            The result folder.
        results (`dict[str, Any]`):
            The content of its ``results.json`` (checked by :meth:`load`).
    """

    folder: Path
    results: dict[str, Any]
    _predictions: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def load(cls, folder: str | Path) -> EvalResult:
        """Read ``folder/results.json`` and check that ``folder/predictions.parquet`` exists (it is read
        later, when :attr:`predictions` is first used); a :class:`ResultFolderError` otherwise."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ResultFolderError(f"{folder}: no such folder")
        path = folder / RESULTS_FILE
        if not path.is_file():
            if (folder / PARTIAL_FILE).exists():
                raise ResultFolderError(
                    f"{folder}: the evaluation has not finished ({PARTIAL_FILE} but no {RESULTS_FILE}); "
                    "re-run the same `clinfair eval` command to finish it"
                )
            raise ResultFolderError(f"{folder}: no {RESULTS_FILE} (is it a `clinfair eval` output folder?)")
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ResultFolderError(f"{path} is not valid JSON ({one_line(error)})") from None
        version = results.get("schema_version") if isinstance(results, dict) else None
        if not isinstance(version, int) or isinstance(version, bool):
            raise ResultFolderError(f"{path} is not a clinfair results file (no integer schema_version)")
        if version > RESULTS_SCHEMA_VERSION:
            raise ResultFolderError(
                f"{path} has results schema version {version}, newer than this clinfair reads "
                f"({RESULTS_SCHEMA_VERSION}); upgrade clinfair"
            )
        if version < 1:
            raise ResultFolderError(f"{path} has an unknown results schema version {version}")
        tasks = results.get("tasks")
        if not isinstance(tasks, dict) or not all(
            isinstance(info, dict) and "label_space" in info for info in tasks.values()
        ):
            raise ResultFolderError(
                f"{path} has no 'tasks' with a 'label_space' each; it is not a complete clinfair results file"
            )
        if not (folder / PREDICTIONS_FILE).is_file():
            raise ResultFolderError(f"{folder}: no {PREDICTIONS_FILE}")
        return cls(folder=folder, results=results)

    # -- what results.json says ---------------------------------------------------------------
    @property
    def name(self) -> str:
        """The run's name (``clinfair eval --run-name``), else the folder's name."""
        run = self.results.get("run") or {}
        return str(run.get("name") or self.folder.name)

    @property
    def method(self) -> str | None:
        """The training method the run declares (``clinfair eval --method``), if any."""
        return (self.results.get("run") or {}).get("method")

    @property
    def tasks(self) -> list[str]:
        return list(self.results["tasks"])

    @property
    def label_spaces(self) -> dict[str, list[str]]:
        return {task: list(info["label_space"]) for task, info in self.results["tasks"].items()}

    # -- predictions.parquet ------------------------------------------------------------------
    @property
    def predictions_path(self) -> Path:
        return self.folder / PREDICTIONS_FILE

    @property
    def predictions(self) -> pd.DataFrame:
        """Every row of ``predictions.parquet`` (read once), checked to hold the columns its readers
        need (``clinfair.benchmark.runner.PREDICTION_COLUMNS``) and no example twice."""
        if self._predictions is None:
            frame = self.read_predictions()
            missing = [column for column in PREDICTION_COLUMNS if column not in frame.columns]
            if missing:
                raise ResultFolderError(f"{self.predictions_path} lacks the column(s) {', '.join(missing)}")
            duplicates = duplicate_examples(frame)
            if duplicates:
                raise ResultFolderError(f"{self.predictions_path}: {duplicates}")
            self._predictions = frame
        return self._predictions

    def read_predictions(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """``predictions.parquet`` as a DataFrame, only ``columns`` when given (a column the file lacks
        is a :class:`ResultFolderError`), read again at each call."""

        path = self.predictions_path
        try:
            if columns is not None:
                missing = [column for column in columns if column not in pq.read_schema(path).names]
                if missing:
                    raise ResultFolderError(f"{path} lacks the column(s) {', '.join(missing)}")
            return pq.read_table(path, columns=None if columns is None else list(columns)).to_pandas()
        except (pa.ArrowException, OSError, ValueError) as error:
            raise ResultFolderError(f"{path} is truncated or unreadable ({one_line(error)})") from None
