"""What every dataset builder shares: raw records, row errors, splits and image loading.

A builder reads one dataset's official raw download from a local folder. It implements
:meth:`Builder.records`, yielding :class:`RawRecord` (source file, row number, fields),
and :meth:`Builder.to_example`, turning one record into a schema row (see
``clinfair.tasks.schema.make_example``). :meth:`Builder.examples` drives the two and turns any
problem into a :class:`RowError` naming file, row and field; with ``skip_bad=True`` the
row is skipped and counted instead. Nothing is dropped silently: a row whose ``id`` was
already built (a duplicate in the raw source) is a row error too, so ``--skip-bad`` keeps
the first and counts the others; a CSV row with fewer fields than its header is reported
as such (naming the first missing column), never read as blank values.
"""

from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import re
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinfair.tasks.schema import FieldError, make_example
from clinfair.tasks.spec import TaskSpec

from clinfair.core.errors import ClinfairError

DEFAULT_SPLIT_FRACTIONS = {"train": 0.7, "validation": 0.1, "test": 0.2}


class BuildError(ClinfairError):
    """A problem with the raw folder as a whole (missing file, missing column...)."""


@dataclass
class RowError(ClinfairError):
    """A bad record: which file, which row (1-based data row, header excluded), which field."""

    file: str
    row: int | str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}, row {self.row}, field {self.field!r}: {self.message}"


#: Key of ``RawRecord.data`` holding ``(field, message)`` when the raw row itself is malformed
#: (e.g. a CSV row shorter than its header); ``Builder.examples`` reports it as a row error.
ROW_PROBLEM = "__clinfair_row_problem__"


@dataclass(frozen=True)
class RawRecord:
    file: str  # path of the source file, relative to the raw folder when possible
    row: int | str  # row number in that file (or another locator, e.g. a DICOM name)
    data: Mapping[str, Any]


@dataclass
class SkipReport:
    """Rows skipped with ``--skip-bad``: a count per reason and the first few errors in full."""

    counts: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    max_examples: int = 20

    def add(self, error: RowError) -> None:
        self.counts[f"{error.field}: {_reason(error.message)}"] += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(str(error))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


_VALUES = re.compile(r"\[[^\]]*['\"][^\]]*\]|'[^']*'|\"[^\"]*\"|\{[^}]*\}")


def _reason(message: str) -> str:
    """The kind of a problem without the offending value, so that counts aggregate.

    The message up to its first quoted value, mapping or colon (``unknown dx value 'xyz';
    expected ...`` -> ``unknown dx value``). A message that starts with its value (``age '200'
    is outside [0, 130] years``) keeps its words with the values taken out (``age is outside
    [0, 130] years``), rather than the bare field name.
    """
    head = message.split(" {", 1)[0].split(" '", 1)[0].split(' "', 1)[0].split(":", 1)[0]
    head = " ".join(_VALUES.sub(" ", head).split())
    if len(head.split()) > 1:
        return head
    return " ".join(_VALUES.sub(" ", message).split(":", 1)[0].split()).strip(" ,;.") or head


@contextmanager
def reading(field_name: str):
    """Attribute a ``ValueError``/``OSError`` raised inside the block to ``field_name``."""
    try:
        yield
    except FieldError:
        raise
    except (ValueError, OSError, KeyError) as error:
        raise FieldError(field_name, str(error) or type(error).__name__) from error


class Builder:
    """Base class of the dataset builders. Subclasses set nothing but the two methods."""

    def __init__(self, spec: TaskSpec, raw_dir: str | Path | None = None, **options: Any):
        self.spec = spec
        self.raw_dir = Path(raw_dir) if raw_dir is not None else None
        unknown = sorted(set(options) - set(spec.options))
        if unknown:
            raise BuildError(
                f"{spec.key}: unknown option(s) {unknown}; known: {sorted(spec.options) or 'none'}"
            )
        self.options = {**spec.options, **options}
        self.given_options = dict(options)  # what a worker process rebuilds the builder from
        self.given_raw = raw_dir  # ... with the --raw it was given (a subclass may keep another raw_dir)
        self.excluded: Counter = Counter()  # rows left out on purpose by an option, by reason
        if spec.needs_raw:
            if self.raw_dir is None:
                raise BuildError(
                    f"{spec.key} needs --raw DIR: the folder of the official download ({spec.access})"
                )
            if not self.raw_dir.is_dir():
                raise BuildError(f"{spec.key}: raw folder {self.raw_dir} does not exist")

    # -- to implement -------------------------------------------------------------
    def records(self) -> Iterator[RawRecord]:
        raise NotImplementedError

    def to_example(self, record: RawRecord) -> dict[str, Any]:
        """One schema row. It may run in a worker process (``--num-proc``): change no state of the
        builder here (count exclusions in :meth:`records`)."""
        raise NotImplementedError

    def exclude(self, reason: str) -> None:
        """Count a row that an option leaves out (not a bad row): reported in the summary."""
        self.excluded[reason] += 1

    # -- driving --------------------------------------------------------------------
    def examples(
        self,
        skip_bad: bool = False,
        skips: SkipReport | None = None,
        num_proc: int = 1,
        encode: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Schema rows of the whole raw folder, streamed; bad rows raise or are counted.

        With ``num_proc > 1``, :meth:`to_example` (reading, decoding and checking the images)
        runs in that many worker processes while this process reads the records and keeps
        their order, so the rows, the errors and the skip report are the same at any
        ``num_proc``. At most :data:`CHUNKS_IN_FLIGHT_PER_PROCESS` chunks of
        :data:`CHUNK_SIZE` records per worker are in flight: memory does not grow with the data.

        ``encode`` (picklable; it keeps ``id``) maps each good example to what is yielded instead,
        in the worker: ``prepare`` encodes rows for Arrow there, the costliest step left in this process.
        """
        skips = skips if skips is not None else SkipReport()
        with closing(self._outcomes(num_proc, encode)) as outcomes:
            yield from self._checked(outcomes, skip_bad, skips)

    def _checked(self, outcomes, skip_bad: bool, skips: SkipReport) -> Iterator[dict[str, Any]]:
        first_seen: dict[str, str] = {}  # id -> "file, row N" of the row that built it
        for record, outcome in outcomes:
            try:
                if not isinstance(outcome, dict):
                    raise _rebuild_error(outcome)
                example = outcome
                key = str(example["id"])
                if key in first_seen:
                    raise FieldError("id", f"duplicate id {key!r}: already built from {first_seen[key]}")
                first_seen[key] = f"{record.file}, row {record.row}"
                yield example
            except (FieldError, RowError) as error:
                row_error = (
                    error
                    if isinstance(error, RowError)
                    else RowError(record.file, record.row, error.field, error.message)
                )
                if not skip_bad:
                    raise row_error from error
                skips.add(row_error)

    def _outcomes(self, num_proc: int, encode=None) -> Iterator[tuple[RawRecord, dict[str, Any] | tuple]]:
        """Each record with its example, or its row problem as a tuple (see :func:`_outcome`), in order."""
        if num_proc <= 1:
            for record in self.records():
                yield record, _outcome(self, record, encode)
            return

        # Workers rebuild the builder from its spec and options (builders may hold unpicklable
        # modules). On Linux they are forked: a spawned worker first re-imports datasets, PIL and
        # clinfair (~1.5 s each), which cost a third of the speed-up on 10,000 rows
        # (perf/prepare_memory.py). No writer is open yet, and a worker takes no lock of this
        # process's other threads (tqdm's monitor); elsewhere they are spawned.
        pool = ProcessPoolExecutor(
            num_proc,
            mp_context=multiprocessing.get_context(_WORKER_START),
            initializer=_start_worker,
            initargs=(self.spec, self.given_raw, self.given_options, encode),
        )
        pending: deque = deque()
        try:
            for chunk in _chunks(self.records(), CHUNK_SIZE):
                pending.append((chunk, pool.submit(_worker_outcomes, chunk)))
                if len(pending) >= num_proc * CHUNKS_IN_FLIGHT_PER_PROCESS:
                    done, future = pending.popleft()
                    yield from zip(done, future.result())
            while pending:
                done, future = pending.popleft()
                yield from zip(done, future.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def example(
        self,
        *,
        id: str,
        split: str,
        images: list[Any],
        answer: Sequence[str],
        sex: Any = None,
        age: Any = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A schema row with this task's question and label space (field errors named)."""
        return make_example(
            id=id,
            dataset=self.spec.key,
            split=split,
            images=images,
            question=self.spec.question,
            choices=self.spec.choices,
            answer=answer,
            sex=sex,
            age=age,
            attributes=attributes,
            attribute_names=self.spec.attributes,
        )

    # -- helpers for subclasses ----------------------------------------------------------
    def path(self, *parts: str) -> Path:
        assert self.raw_dir is not None
        return self.raw_dir.joinpath(*parts)

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.raw_dir)) if self.raw_dir else str(path)
        except ValueError:
            return str(path)

    def find_file(self, *candidates: str) -> Path:
        """The first of several accepted names (sources rename files between releases)."""
        for name in candidates:
            hits = [self.path(name)] if "*" not in name else sorted(self.raw_dir.glob(name))  # type: ignore[union-attr]
            for hit in hits:
                if hit.is_file():
                    return hit
        raise BuildError(f"{self.spec.key}: none of {list(candidates)} found in {self.raw_dir}")

    def csv_records(self, path: Path, required: Sequence[str]) -> Iterator[RawRecord]:
        """Rows of a CSV file as records; a missing required column is a :class:`BuildError`.

        A file that is not UTF-8 text or not readable as CSV is a :class:`BuildError` naming
        the file and line. A row with fewer fields than the header, or with values beyond
        it, is yielded with a :data:`ROW_PROBLEM` (a row error, skippable with ``--skip-bad``).
        """
        name = self.relative(path)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            try:
                header = [column.strip() for column in next(reader, [])]
                missing = [column for column in required if column not in header]
                if missing:
                    raise BuildError(f"{name}: missing column(s) {missing}; found {header}")
                number = 0
                for values in reader:
                    if not values:  # a blank line: skipped and not counted, as csv.DictReader does
                        continue
                    number += 1
                    padded = values + [""] * (len(header) - len(values))
                    data = {k: v.strip() for k, v in zip(header, padded) if k}
                    if len(values) < len(header):
                        data[ROW_PROBLEM] = (
                            header[len(values)],
                            f"short row: {len(values)} of the "
                            f"{len(header)} columns of the header (a value is missing)",
                        )
                    elif any(v.strip() for v in values[len(header) :]):
                        data[ROW_PROBLEM] = (
                            "row",
                            f"long row: {len(values)} values for the {len(header)} columns of the header",
                        )
                    yield RawRecord(name, number, data)
            except UnicodeDecodeError as error:
                raise BuildError(_not_utf8(path, name, error)) from None
            except csv.Error as error:
                raise BuildError(f"{name}, line {reader.line_num}: not readable as CSV ({error})") from None


def _not_utf8(path: Path, name: str, error: UnicodeDecodeError) -> str:
    """The message for a CSV file that is not UTF-8: file, line and the byte, and how to fix it."""
    data = path.read_bytes()
    try:
        data.decode("utf-8-sig")
        line, byte = "?", error.object[error.start : error.start + 1]
    except UnicodeDecodeError as full:
        line, byte = str(data[: full.start].count(b"\n") + 1), data[full.start : full.start + 1]
    return (
        f"{name}, line {line}: not UTF-8 text (byte 0x{byte.hex()}); clinfair reads CSV files as "
        f"UTF-8: convert it, e.g. `iconv -f latin1 -t utf-8 {path.name} > {path.name}.utf8`"
    )


#: Records sent to a worker process at a time, and chunks in flight per worker (``num_proc > 1``).
CHUNK_SIZE = 16
CHUNKS_IN_FLIGHT_PER_PROCESS = 4


def _outcome(builder: Builder, record: RawRecord, encode=None) -> dict[str, Any] | tuple:
    """``builder.to_example(record)``, or the row problem as plain data: ``("field", field, message)``
    or ``("row", file, row, field, message)`` (it crosses process boundaries, where exceptions with
    their own constructor arguments do not survive). Any other exception propagates."""
    try:
        if ROW_PROBLEM in record.data:
            raise FieldError(*record.data[ROW_PROBLEM])
        example = builder.to_example(record)
    except RowError as error:
        return ("row", error.file, error.row, error.field, error.message)
    except FieldError as error:
        return ("field", error.field, error.message)
    return encode(example) if encode is not None else example


def _rebuild_error(outcome: tuple) -> FieldError | RowError:
    if outcome[0] == "row":
        return RowError(*outcome[1:])
    return FieldError(*outcome[1:])


#: How ``num_proc > 1`` starts its workers (see ``Builder._outcomes``).
_WORKER_START = "fork" if sys.platform == "linux" else "spawn"
_WORKER_BUILDER: Builder | None = None  # the builder of a worker process (num_proc > 1)
_WORKER_ENCODE = None  # and its ``encode`` (Builder.examples)


def _start_worker(spec: TaskSpec, raw_dir: str | Path | None, options: dict[str, Any], encode=None) -> None:
    global _WORKER_BUILDER, _WORKER_ENCODE
    _WORKER_BUILDER = spec.builder_class()(spec, raw_dir, **options)
    _WORKER_ENCODE = encode


def _worker_outcomes(records: list[RawRecord]) -> list[dict[str, Any] | tuple]:
    assert _WORKER_BUILDER is not None
    return [_outcome(_WORKER_BUILDER, record, _WORKER_ENCODE) for record in records]


def _chunks(items: Iterator[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    chunk: list[RawRecord] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def assign_split(key: str, seed: int = 0, fractions: Mapping[str, float] = DEFAULT_SPLIT_FRACTIONS) -> str:
    """A deterministic split from a stable hash of ``key`` (use the patient id, so that
    one patient's images never straddle splits)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    total = 0.0
    for split, fraction in fractions.items():
        total += fraction
        if position < total:
            return split
    return list(fractions)[-1]


def load_image(path: Path, field_name: str = "images") -> dict[str, Any]:
    """Read and fully decode an image file (a truncated or unreadable file is a field error),
    returning the original bytes for the ``datasets.Image`` feature, never re-encoded.

    ``path`` is None: ``datasets.Image`` stores only the path, not the bytes, of an image whose
    path names an existing file, so a file name that happened to exist in the current folder
    would have been stored without its pixels.
    """
    from PIL import Image

    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except FileNotFoundError:
        raise FieldError(field_name, f"image file not found: {str(path)!r}") from None
    except Exception as error:  # PIL raises many types for corrupt data
        raise FieldError(field_name, f"unreadable image {str(path)!r}: {error}") from None
    return {"bytes": data, "path": None}


def encode_png(array_or_image: Any, name: str) -> dict[str, Any]:
    """PNG bytes of a decoded frame (DICOM pixels, a video frame, a generated image)."""
    from PIL import Image

    image = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": name}


def require_extra(module: str, extra: str):
    """Import an optional decoder, or fail with the pip extra that provides it."""
    try:
        return __import__(module)
    except ImportError:
        raise BuildError(
            f"this dataset needs the optional package {module!r}: pip install 'clinfair[{extra}]'"
        ) from None
