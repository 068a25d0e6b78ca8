"""A study's report: the runs' files read into numbers (:func:`summarise`, ``report.json``) and
the Markdown a person reads (:func:`render`, ``report.md``).

The first lines of ``report.md`` are the verdict on the primary endpoint the config declared
(one test per comparison, each a method vs the baseline, Holm-corrected over the
comparisons), with the power of that test for the config's ``target_effect``; "underpowered"
stands in the first line when any primary test's power is below 80 %. Every other test is
secondary, Holm-corrected over the whole secondary family, whose size is printed. The unit
of inference is the training run (seed): paired t-test and exact sign-flip test over seeds;
a row-level bootstrap appears only as one pair of runs' measurement uncertainty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from clinfair.benchmark.eval_result import EvalResult
from clinfair.benchmark.metrics.registry import PAPER, RUN, STUDY, get_metric, select_metrics
from clinfair.benchmark.seedstats import EXACT_SIGN_FLIP_SEEDS, Interval
from clinfair.core.errors import ClinfairError
from clinfair.study import statistics
from clinfair.study.config import PrimaryEndpoint, StudyConfig
from clinfair.study.runner import run_folder

#: paper-protocol overall values reported for every run (fractions)
PAPER_METRICS = ("accuracy", "f1", "acc_gap", "f1_gap", "tpr_gap", "fpr_gap", "fdr_gap")
#: the first two value columns of every table: exact accuracy and the invalid-answer rate
RUN_METRICS = ("exact_match", "invalid")
#: column labels, from the metric registry (run-level, paper keys, the minority's accuracy and gap)
LABELS = {
    **{key: get_metric(RUN, key).label for key in RUN_METRICS},
    **{m.key: m.label for m in (*select_metrics(PAPER, PAPER_METRICS), *select_metrics(STUDY))},
}
UNIT = (
    "Unit of inference: the training run (seed). Tests are paired by seed over the per-seed values "
    "(paired t-test and exact sign-flip permutation test); a row-level bootstrap is one pair of runs' "
    "measurement uncertainty, never a test across runs."
)


def run_metrics(eval_dir: Path, task: str, minority: dict[str, str]) -> dict[str, float | None]:
    """Exact accuracy and invalid rate, the paper-protocol overall values, and the minority's
    accuracy and gap from the predictions."""

    result = EvalResult.load(eval_dir)
    results = result.results
    paper = results["metrics"]["paper"]["overall"]
    info = results["tasks"][task]
    values: dict[str, float | None] = {
        "exact_match": info.get("accuracy_exact"),
        "invalid": info["invalid_answers"] / info["rows"] if info.get("rows") else None,
        **{key: paper.get(key) for key in PAPER_METRICS},
    }
    if minority:
        ((attribute, group),) = minority.items()
        rows = result.read_predictions(columns=["dataset", attribute, "correct"])
        rows = rows[rows["dataset"] == task]
        inside = rows[attribute].astype(str) == str(group)
        if inside.any() and (~inside).any():
            values["minority_acc"] = float(rows.loc[inside, "correct"].mean())
            values["minority_gap"] = float(rows.loc[~inside, "correct"].mean() - values["minority_acc"])
    return values


def endpoint_rows(eval_dir: Path, task: str, endpoint: PrimaryEndpoint):
    """Per row of the task, sorted by id: the id, the endpoint's 1/0 value and the group ('' for none)."""

    columns = ["dataset", "id", "correct", "valid", *([endpoint.attribute] if endpoint.attribute else [])]
    # a column the file lacks (the endpoint's attribute, say) is one line naming the folder
    rows = EvalResult.load(eval_dir).read_predictions(columns=columns)
    rows = rows[rows["dataset"] == task].sort_values("id", kind="stable")
    values = (rows["correct"] if endpoint.metric == "accuracy" else ~rows["valid"].astype(bool)).to_numpy(
        float
    )
    groups = None
    if endpoint.attribute is not None:
        groups = rows[endpoint.attribute].map(lambda v: "" if v is None or v != v else str(v)).to_numpy(str)
    return rows["id"].astype(str).to_numpy(), values, groups


def _paired_endpoint(config: StudyConfig, out: Path, method: str, seeds: list[int]) -> dict:
    pairs = {}
    for seed in seeds:
        mine = endpoint_rows(run_folder(out, method, seed) / "eval", config.task, config.endpoint)
        base = endpoint_rows(run_folder(out, config.baseline, seed) / "eval", config.task, config.endpoint)
        if not np.array_equal(mine[0], base[0]):
            raise ClinfairError(
                f"seed {seed}: {method} and {config.baseline} were evaluated on other rows "
                f"(a study resumed with another eval split or limit); use another --out"
            )
        pairs[seed] = (mine[1], base[1], mine[2])
    return pairs


def summarise(config: StudyConfig, out: Path) -> dict[str, Any]:
    """The report's JSON from the finished runs' files."""
    per_run: dict[str, dict[int, dict[str, float | None]]] = {}
    timings = []
    for method in config.methods:
        for seed in config.seed_list:
            folder = run_folder(out, method, seed)
            if (folder / "run.json").exists():
                per_run.setdefault(method, {})[seed] = run_metrics(
                    folder / "eval", config.task, config.minority
                )
                timings.append(json.loads((folder / "run.json").read_text()))
    metrics = [*RUN_METRICS, *PAPER_METRICS, *(("minority_acc", "minority_gap") if config.minority else ())]
    endpoint = config.endpoint
    summary: dict[str, Any] = {
        "config": config.to_dict(),
        "primary": {"name": endpoint.name, **config.to_dict()["primary"]},
        "metrics": metrics,
        "methods": {},
        "differences": {},
        "runs": timings,
    }
    if timings:
        summary["seconds_per_run"] = statistics.interval([t["train_s"] + t["eval_s"] for t in timings])
    for method, runs in per_run.items():
        summary["methods"][method] = {
            "seeds": sorted(runs),
            "per_seed": {str(s): v for s, v in runs.items()},
            **statistics.method_intervals(runs, metrics),
        }
    base_runs = per_run.get(config.baseline, {})
    primary_family, secondary_family = [], []
    for method in config.compared:
        runs = per_run.get(method, {})
        seeds = sorted(set(runs) & set(base_runs))
        if not seeds:
            continue
        primary = statistics.primary_analysis(
            _paired_endpoint(config, out, method, seeds),
            endpoint.group,
            endpoint.gap,
            float(config.target_effect),
            config.n_bootstrap,
            alpha=statistics.family_alpha(len(config.compared)),
        )
        entry: dict[str, Any] = {"seeds": seeds, "primary": primary, "by_metric": {}}
        primary_family.append(primary)
        for key in metrics:
            pairs = [
                (runs[s][key], base_runs[s][key])
                for s in seeds
                if None not in (runs[s].get(key), base_runs[s].get(key))
            ]
            entry["by_metric"][key] = statistics.seed_test(*zip(*pairs)) if pairs else None
            if pairs:
                secondary_family.append(entry["by_metric"][key])
        summary["differences"][method] = entry
    summary["family_sizes"] = {
        "primary": statistics.adjust_family(primary_family),
        "secondary": statistics.adjust_family(secondary_family),
    }
    return summary


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------


def interval_text(interval: dict[str, Any] | None, scale: float = 100.0) -> str:
    """A stored ``seedstats.Interval`` as text (×100: points); a dash when there is none."""

    return Interval(**interval).text(scale) if interval else "–"


def sign_flip_text(seeds: int, p: float | None) -> str:
    """The sign-flip p-value and how it was found: exactly, or from random sign patterns."""

    if seeds <= EXACT_SIGN_FLIP_SEEDS:
        return f"exact sign-flip p = {fmt_p(p)}"
    return f"sign-flip p = {fmt_p(p)} (100000 random sign patterns)"


def fmt_p(p: float | None) -> str:
    return "–" if p is None else f"{p:.2g}"


def points(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}"


def power_text(power: dict[str, Any]) -> str:
    """``power 11 % for a 5.0-point difference (SD of the per-seed differences 12.0 points, 5 seeds;
    80 % needs 47 seeds)``."""
    if power.get("power") is None:
        return f"no power: {power['seeds']} paired seed(s), at least 2 are needed for a test"
    needed = power.get("seeds_needed")
    return (
        f"power {power['power'] * 100:.0f} % at α = {power['alpha']:.3g} for a "
        f"{points(power['target_effect'])}-point difference "
        f"(SD of the per-seed differences {points(power['sd'])} points, {power['seeds']} seeds; "
        f"minimum detectable at 80 %: {points(power['minimum_detectable'])} points; "
        f"80 % for the target needs {needed if needed else 'more than 100000'} seeds)"
    )


def verdict_lines(summary: dict[str, Any]) -> list[str]:
    """The verdict on the primary endpoint: its first line says "underpowered" when any
    primary test's power is below 80 % for the target effect."""
    config, primary = summary["config"], summary["primary"]
    baseline = config["baseline"]
    direction = primary["direction"]
    entries = {m: e["primary"] for m, e in summary["differences"].items()}
    weak = {
        m: e["power"]
        for m, e in entries.items()
        if (e["power"].get("power") or 0.0) < statistics.TARGET_POWER
    }
    head = (
        f"**Verdict** on the primary endpoint, {primary['name']} ({direction} is better), method − {baseline}"
    )
    if not entries:
        return [head + ": no comparison has a finished pair of runs.", ""]
    if weak:
        method, power = min(weak.items(), key=lambda item: item[1].get("power") or 0.0)
        head += f". UNDERPOWERED: {method} vs {baseline}: {power_text(power)}."
    else:
        head += "; every primary test has at least 80 % power for the target difference."
    lines = [head, ""]
    size = summary["family_sizes"]["primary"]
    for method, e in entries.items():
        diff = e.get("diff")
        shown = f"{interval_text(diff)} points" if diff else "–"
        ci = e.get("two_level_ci")
        boot = f", two-level bootstrap 95 % CI [{points(ci[0])}, {points(ci[1])}]" if ci else ""
        if statistics.significant(e):
            better = (diff["mean"] < 0) == (direction == "lower")
            call = f"significantly {'better' if better else 'worse'} than {baseline}"
        else:
            call = f"no significant difference to {baseline}"
        lines.append(
            f"- {method}: {shown} over {len(e['seeds'])} paired seeds{boot}; paired t p = {fmt_p(e.get('p'))}, "
            f"{sign_flip_text(len(e['seeds']), e.get('p_sign_flip'))} (Holm over the {size} primary test(s): "
            f"{fmt_p(e.get('p_holm'))}, {fmt_p(e.get('p_sign_flip_holm'))}): {call}; {power_text(e['power'])}."
        )
    seeds = min(len(e["seeds"]) for e in entries.values())
    if seeds >= 2 and min(1.0, size * 2 / 2**seeds) >= statistics.ALPHA:
        lines += [
            "",
            f"With {seeds} seeds the exact sign-flip test cannot reach 5 % after Holm over {size} test(s) "
            f"(its smallest p-value is 2 / 2^{seeds} = {2 / 2**seeds:.3g}): no verdict can be significant.",
        ]
    lines += [
        "",
        "A difference is significant when both seed-level tests, Holm-corrected, are below 5 %. " + UNIT,
        "",
    ]
    return lines


def render(summary: dict[str, Any]) -> str:
    """The study report in Markdown: the verdict, per-method intervals, the primary endpoint per
    seed, and the secondary paired differences."""
    config, metrics = summary["config"], summary["metrics"]
    baseline = config["baseline"]
    lines = verdict_lines(summary)
    lines += [
        "## Per method (mean ± 95 % t-interval over seeds, percent)",
        "",
        "| method | seeds | " + " | ".join(LABELS[k] for k in metrics) + " |",
        "|" + "---|" * (len(metrics) + 2),
    ]
    for method, entry in summary["methods"].items():
        cells = [interval_text(entry.get(k)) for k in metrics]
        lines.append(f"| {method} | {len(entry['seeds'])} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Exact acc: answer equals the label; Invalid: no parsable answer; the other columns: paper protocol.",
        "",
        f"## Primary endpoint per seed: {summary['primary']['name']} (percent)",
        "",
        "The row-level bootstrap interval is that pair of runs' measurement uncertainty (the test rows "
        "resampled, both trained runs held fixed); it says nothing about another training run.",
        "",
        f"| method | seed | {baseline} | method | difference | row-level 95 % CI (measurement) |",
        "|---|---|---|---|---|---|",
    ]
    for method, entry in summary["differences"].items():
        for seed, e in entry["primary"]["per_seed"].items():
            ci = e.get("row_bootstrap_ci")
            ci_text = f"[{points(ci[0])}, {points(ci[1])}]" if ci else "–"
            lines.append(
                f"| {method} | {seed} | {points(e['baseline'])} | {points(e['method'])} | {points(e['diff'])} | {ci_text} |"
            )
    size = summary["family_sizes"]["secondary"]
    lines += [
        "",
        f"## Secondary: paired differences to {baseline} (method − {baseline}, same seeds)",
        "",
        f"Holm over the whole secondary family: {size} tests.",
        "",
        "| method | metric | difference | paired t p | sign-flip p | Holm p (t) | Holm p (sign-flip) |",
        "|---|---|---|---|---|---|---|",
    ]
    significant = []
    for method, entry in summary["differences"].items():
        for key in metrics:
            e = entry["by_metric"].get(key)
            if not e:
                continue
            lines.append(
                f"| {method} | {LABELS[key]} | {interval_text(e['diff'])} | {fmt_p(e['p'])} | "
                f"{fmt_p(e['p_sign_flip'])} | {fmt_p(e.get('p_holm'))} | {fmt_p(e.get('p_sign_flip_holm'))} |"
            )
            if statistics.significant(e):
                direction = "higher" if e["diff"]["mean"] > 0 else "lower"
                significant.append(
                    f"{method}'s {LABELS[key]} is {direction} than {baseline}'s by "
                    f"{abs(e['diff']['mean']) * 100:.1f} points"
                )
    lines.append("")
    if significant:
        lines.append(
            f"Significant secondary differences (both tests, Holm over {size}): "
            + "; ".join(significant)
            + "."
        )
    else:
        lines.append(
            f"No secondary difference to {baseline} is significant after Holm over the family of {size}."
        )
    if "seconds_per_run" in summary:
        spr = summary["seconds_per_run"]
        lines.append(f"Time per run (train + eval): {interval_text(spr, 1.0)} s over {spr['n']} runs.")
    return "\n".join(lines) + "\n"
