"""``clinfair metrics PREDICTIONS --out report.json``: the fairness report of a predictions file.

PREDICTIONS is a parquet or JSON Lines file with one row per example and at least the
columns ``dataset``, ``answer``, ``prediction``, ``sex`` and ``age_group`` (see
:mod:`clinfair.benchmark.metrics` for the scoring rules and the report's layout). Anything wrong
with the file is one line on stderr (exit code 2), never a traceback; problems that leave
the rest scorable (invalid answers, null demographics, unknown labels) are counted in the
report and repeated under the summary table. An example that appears twice (the same
``id`` of the same ``dataset``, e.g. two predictions files concatenated) is an error naming
it: it would be counted twice.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clinfair.benchmark.bootstrap import N_BOOTSTRAP
from clinfair.benchmark.metrics.registry import PAPER, RUN, SCORE_GROUP, SCORE_SUMMARY
from clinfair.cli import os_error_hint
from clinfair.core.arguments import add_dataclass_arguments
from clinfair.core.errors import ClinfairError, one_line
from clinfair.core.io import atomic_write_json, check_output_file
from clinfair.tasks.attributes import DEFAULT_HELP, resolve_for_table
from clinfair.tasks.registry import registered_tasks

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(kw_only=True)
class MetricsArguments:
    """The arguments of ``clinfair metrics``.

    Parameters:
        predictions (`Path`):
            A parquet or JSON Lines predictions file; positional.
        out (`Path`):
            Where to write the report (JSON).
        n_bootstrap (`int`, *optional*, defaults to `clinfair.benchmark.bootstrap.N_BOOTSTRAP`):
            Bootstrap resamples for the confidence intervals (0: none).
        seed (`int`, *optional*, defaults to `0`):
            Seed of the bootstrap.
        attributes (`str`, *optional*):
            Comma list of attributes for the per-group metrics, ``*`` making an intersection (default:
            every command's default, each where the file has it, plus those a ``results.json`` beside
            the file lists and every key of an ``attributes`` column).
        min_group_size (`int`, *optional*, defaults to `30`):
            Groups with fewer rows are flagged as small.
        positive_label (`list[str]`, *optional*):
            ``DATASET=LABEL``, the positive label of a binary dataset, one per flag (default: guessed
            from the label names).
    """

    predictions: Path = field(
        metadata={"help": "parquet or JSONL predictions file", "positional": True, "metavar": "PREDICTIONS"}
    )
    out: Path = field(metadata={"help": "where to write the report (JSON)"})
    n_bootstrap: int = field(default=N_BOOTSTRAP, metadata={"help": "bootstrap resamples for CIs (0: none)"})
    seed: int = field(default=0, metadata={"help": "seed of the bootstrap"})
    attributes: str | None = field(
        default=None,
        metadata={
            "help": "comma list of attributes for the per-group metrics; '*' makes an intersection, "
            f"e.g. 'sex,age_group,sex*age_group' (default: {DEFAULT_HELP}, e.g. fitzpatrick for pad_ufes20, "
            "those a results.json beside the file lists, and every key of an 'attributes' column; each "
            "where the file has it)"
        },
    )
    min_group_size: int = field(
        default=30, metadata={"help": "groups with fewer rows are flagged as small (default 30)"}
    )
    positive_label: list[str] = field(
        default_factory=list,
        metadata={
            "help": "positive label of a binary dataset (repeatable); default: guessed from the label names",
            "action": "append",
            "nargs": None,
            "metavar": "DATASET=LABEL",
        },
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "metrics",
        help="fairness report (paper protocol + per-group metrics with CIs) of a predictions file",
        description="Score a predictions file (parquet or JSONL) and write the metrics report as JSON.",
    )
    add_dataclass_arguments(parser, MetricsArguments)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from clinfair.benchmark.metrics import MetricsInputError, build_report
    from clinfair.benchmark.runner import duplicate_examples

    if args.n_bootstrap < 0:
        raise ClinfairError("--n-bootstrap must be >= 0")
    if args.min_group_size < 0:
        raise ClinfairError("--min-group-size must be >= 0")
    positive_labels = _parse_positive_labels(args.positive_label)
    check_output_file(args.out, inputs=[("PREDICTIONS file", args.predictions)], command="clinfair metrics")
    df = load_predictions(args.predictions)
    duplicates = duplicate_examples(df)
    if duplicates:
        raise ClinfairError(f"{args.predictions}: {duplicates}")
    attributes = table_attributes(args.predictions, df, args.attributes)
    try:
        report = build_report(
            df,
            positive_labels=positive_labels,
            attributes=attributes,
            n_bootstrap=args.n_bootstrap,
            seed=args.seed,
            min_group_size=args.min_group_size,
        )
    except MetricsInputError as error:
        raise ClinfairError(f"{args.predictions}: {error}") from None
    report["source"] = {"predictions": str(args.predictions)}
    write_report(args.out, report)
    print(summary_table(report))
    if "scores" in report:
        print(score_summary_table(report["scores"]))
    print(f"wrote {args.out}")
    return 0


def table_attributes(path: Path, df, chosen: str | None) -> list[str]:
    """The attributes to report on the predictions table ``df`` read from ``path``
    (``clinfair.tasks.attributes.resolve_for_table``): ``chosen``, each part checked to be a column
    of the file or a key of its ``attributes`` column, or by default what ``clinfair eval`` reports
    for the file's tasks, plus those a ``results.json`` beside the file lists."""

    return resolve_for_table(
        chosen,
        specs=registered_tasks(df["dataset"].dropna().astype(str) if "dataset" in df.columns else ()),
        columns=[str(column) for column in df.columns],
        attribute_dicts=df["attributes"] if "attributes" in df.columns else (),
        recorded=_stored_attributes(path.parent / "results.json"),
        where=str(path),
    )


def _stored_attributes(path: Path) -> list[str]:
    """The attributes a results.json lists (none when there is no readable one)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8")).get("attributes")
    except (OSError, ValueError, AttributeError):
        return []
    return [str(item) for item in stored] if isinstance(stored, list) else []


def _parse_positive_labels(items: list[str]) -> dict[str, str]:

    labels = {}
    for item in items:
        dataset, sep, label = item.partition("=")
        if not sep or not dataset or not label:
            raise ClinfairError(f"--positive-label expects DATASET=LABEL, got {item!r}")
        labels[dataset] = label
    return labels


def load_predictions(path: Path):
    """Read a parquet or JSONL predictions file into a DataFrame; ClinfairError if unreadable.

    Parquet list columns stay Arrow-backed (``pd.ArrowDtype``), which the metrics read
    without converting a Python list per row. A file is parquet when its name ends in
    ``.parquet``/``.pq`` or it starts with the parquet magic bytes; anything else is read as
    JSON Lines.
    """
    import pandas as pd

    if not path.exists():
        raise ClinfairError(f"{path}: no such file")
    if not path.is_file():
        raise ClinfairError(f"{path}: not a file")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as error:
        raise ClinfairError(f"{path}: cannot read: {one_line(error)}") from None
    if not magic:
        raise ClinfairError(f"{path}: the file is empty")
    if path.suffix.lower() in PARQUET_SUFFIXES or magic == b"PAR1":
        df = _read_parquet(path)
    else:
        df = pd.DataFrame.from_records(_read_jsonl(path))
    if len(df) == 0:
        raise ClinfairError(f"{path}: no rows")
    return df


def _read_parquet(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    def list_as_arrow(arrow_type: pa.DataType):
        import pandas as pd

        if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
            return pd.ArrowDtype(arrow_type)
        return None

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise ClinfairError(f"{path}: cannot read as parquet: {one_line(error)}") from None
    return table.to_pandas(types_mapper=list_as_arrow)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:

    records = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    if number == 1 and _is_results_file(path):
                        raise ClinfairError(
                            f"{path} is the results.json of `clinfair eval`, not a predictions "
                            "file: pass the predictions.parquet beside it"
                        ) from None
                    hint = (
                        " (a JSON array? expected one JSON object per line)"
                        if line.lstrip()[:1] == "["
                        else ""
                    )
                    raise ClinfairError(f"{path}:{number}: not valid JSON: {error.msg}{hint}") from None
                if not isinstance(record, dict):
                    raise ClinfairError(
                        f"{path}:{number}: expected a JSON object, got {type(record).__name__}"
                    )
                records.append(record)
    except UnicodeDecodeError:
        raise ClinfairError(f"{path}: not a UTF-8 text file (and not parquet)") from None
    except OSError as error:
        raise ClinfairError(f"{path}: cannot read: {one_line(error)}") from None
    return records


def _is_results_file(path: Path) -> bool:
    """Whether ``path`` holds one JSON document shaped like ``clinfair eval``'s results.json."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and {"schema_version", "metrics"} <= set(document)


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write the report atomically (temporary file in the same folder, then ``os.replace``)."""

    try:
        atomic_write_json(path, report)
    except OSError as error:
        raise ClinfairError(f"cannot write {path}: {os_error_hint(error)}") from None


def _fmt(value: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


#: The paper keys the summary table shows, in this order (labels and scale from the metric registry).
SUMMARY_KEYS = ("accuracy", "f1", "acc_gap", "f1_gap", "eod", "pp")
#: Read first: exact accuracy and invalid rate (the run layer of the registry); the paper protocol's
#: group-averaged accuracy gives a model that never answers 0.5 on a binary task.
HEADLINE_KEYS = ("exact_match", "invalid")
#: Names the span of the paper-protocol columns under the header.
PAPER_PROTOCOL = "paper protocol"


def headline_values(report: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Per dataset and ``overall``: ``exact_match`` (the standard layer's exact-match accuracy; every
    scored row pooled for ``overall``) and ``invalid`` (invalid answers / rows) of a metrics report."""
    counts, standard = report["counts"], report["standard"]["by_dataset"]
    out: dict[str, dict[str, float | None]] = {}
    correct = scored = invalid = rows = 0.0
    for name, scope_counts in counts["by_dataset"].items():
        exact = standard[name]["overall"]["metrics"]["accuracy"]["value"]
        out[name] = {
            "exact_match": exact,
            "invalid": scope_counts["invalid_predictions"] / scope_counts["rows"]
            if scope_counts["rows"]
            else None,
        }
        if exact is not None:
            correct += exact * scope_counts["rows_scored"]
            scored += scope_counts["rows_scored"]
        invalid += scope_counts["invalid_predictions"]
        rows += scope_counts["rows"]
    out["overall"] = {
        "exact_match": correct / scored if scored else None,
        "invalid": invalid / rows if rows else None,
    }
    return out


def summary_table(report: dict[str, Any]) -> str:
    """A compact text table per dataset and overall: exact accuracy and invalid rate first, the rows,
    then the paper-protocol values (the span marked under the header), then warnings."""
    from clinfair.benchmark.metrics import select_metrics

    counts = report["counts"]
    paper = report["paper"]
    headline = headline_values(report)
    in_overall = set(report["paper_detail"]["datasets_in_overall"])
    first = select_metrics(RUN, HEADLINE_KEYS)
    columns = select_metrics(PAPER, SUMMARY_KEYS)
    header = ("dataset", *(m.label for m in first), "rows", *(m.label for m in columns), "in overall")
    paper_span = range(2 + len(first), 2 + len(first) + len(columns))

    def row(name: str, scope_counts: dict[str, Any], values: dict[str, Any], included: str) -> tuple:
        return (
            name,
            *(_fmt(headline[name][m.key]) for m in first),
            f"{scope_counts['rows']:,}",
            *(_fmt(values[m.key], digits=1 if m.percent else 3) for m in columns),
            included,
        )

    lines = [
        row(name, counts["by_dataset"][name], values, "yes" if name in in_overall else "no")
        for name, values in paper["by_dataset"].items()
    ]
    lines.append(row("overall", counts, paper["overall"], ""))
    widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in [header, *lines]
    ]
    span_width = sum(widths[i] + 2 for i in paper_span) - 2
    under = ["-" * w for i, w in enumerate(widths) if i not in paper_span]
    under.insert(paper_span.start, f" {PAPER_PROTOCOL} ".center(span_width, "-"))
    text.insert(1, "  ".join(under))  # the header's rule names the paper protocol's columns
    text.insert(-1, "-" * len(text[0]))
    text.append(
        f"{first[0].label}: {first[0].description}; {first[1].label}: {first[1].description}. "
        f"{PAPER_PROTOCOL}: group-averaged one-vs-rest values (fractions; EOD = 100 x TPR gap, PP = 100 x FDR gap)"
    )
    return "\n".join(text + _warnings(report))


def score_summary_table(scores: dict[str, Any]) -> str:
    """Score-based metrics per task and attribute: AUROC and ECE on all scored rows, then the
    worst-group AUROC, AUROC gap and ECE gap across the attribute's groups."""
    from clinfair.benchmark.metrics import get_metric

    auroc, ece = (get_metric(SCORE_GROUP, key).label for key in ("auroc", "ece"))
    worst = get_metric(SCORE_SUMMARY, "worst_group_auroc").label
    header = ("dataset", "attribute", "scored", auroc, worst, f"{auroc} gap", ece, f"{ece} gap")
    lines = []
    for name, dataset in scores["by_dataset"].items():
        if dataset["overall"] is None:
            lines.append((name, "-", "0", "-", "-", "-", "-", "-"))
            continue
        overall = dataset["overall"]["metrics"]
        for attribute, entry in dataset["attributes"].items():
            summary = entry["summary"]
            lines.append(
                (
                    name,
                    attribute,
                    f"{dataset['counts']['rows_scored']:,}",
                    _fmt(overall["auroc"]["value"]),
                    _fmt(summary["worst_group_auroc"]["value"]),
                    _fmt(summary["auroc_gap"]["value"]),
                    _fmt(overall["ece"]["value"]),
                    _fmt(summary["ece_gap"]["value"]),
                )
            )
    widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in [header, *lines]
    ]
    text.insert(1, "-" * len(text[0]))
    text.append(f"score-based metrics (ECE: {scores['settings']['n_bins']} equal-width bins; '-': undefined)")
    left_out = scores["counts"]["rows"] - scores["counts"]["rows_scored"]
    if left_out:
        text.append(f"note: {left_out:,} rows without usable scores were left out of the score-based metrics")
    return "\n".join(text)


def _warnings(report: dict[str, Any]) -> list[str]:
    counts = report["counts"]
    out = []
    if counts["rows_without_dataset"]:
        out.append(f"warning: {counts['rows_without_dataset']:,} rows without a dataset were not scored")
    if counts["rows_without_answer"]:
        out.append(
            f"warning: {counts['rows_without_answer']:,} rows with a null or empty answer were not scored"
        )
    if counts["null_labels_in_lists"]:
        out.append(f"warning: {counts['null_labels_in_lists']:,} null labels inside label lists were ignored")
    nulls = {name: n for name, n in counts["null_demographics"].items() if n}
    if nulls:
        out.append(
            "note: rows with a null demographic (in no group): "
            + ", ".join(f"{k} {v:,}" for k, v in nulls.items())
        )
    odd = {name: n for name, n in counts["unrecognised_demographics"].items() if n}
    if odd:
        out.append(
            "warning: values outside the paper's groups (F/M, A1-A4), left out of the paper protocol: "
            + ", ".join(f"{k} {v:,}" for k, v in odd.items())
        )
    for name, ds in counts["by_dataset"].items():
        for side in ("answer", "prediction"):
            outside = ds["labels_outside_label_space"][side]
            if outside["total"]:
                shown = ", ".join(f"{label!r} x{n}" for label, n in list(outside["labels"].items())[:5])
                out.append(
                    f"warning: {name}: {outside['total']:,} {side} labels outside the label space ({shown})"
                )
    for name, detail in report["paper_detail"]["by_dataset"].items():
        if not detail["included_in_overall"]:
            out.append(f"note: {name}: {detail['reason']}")
    small = sum(
        len(attribute["small_groups"])
        for dataset in report["standard"]["by_dataset"].values()
        for attribute in dataset["attributes"].values()
    )
    if small:
        min_size = report["settings"]["min_group_size"]
        out.append(f"note: {small} groups have fewer than {min_size} rows (flagged 'small' in the report)")
    return out
