"""``clinfair study CONFIG``: methods x seeds on one task with one budget, paired by seed.

A study trains every method for every seed from the same initial model, with the same
recipe (budget, rewards) and, for a given seed, the same data order, then evaluates each
policy on the same held-out rows (``clinfair eval``). It is resumable: each run writes its
folder ``OUT/runs/<method>-seed<k>/`` (``train/``, ``eval/`` and, once finished, ``run.json``
with its timings); a killed study started again skips the finished runs.

The report (``OUT/report.md``, ``OUT/report.json``) gives, per method, the mean and 95 %
t-interval over seeds of accuracy, F1 and every gap (paper protocol), and the minority gap
(accuracy of the other rows minus the planted minority's); then the paired differences to a
baseline (default GRPO): a paired t-test across seeds and a row-level paired bootstrap
(``clinfair.benchmark.metrics.paired_bootstrap``, the rows of all seeds pooled), each Holm-corrected
across metrics, and a sentence saying which differences are significant.

A config is a YAML mapping (``configs/studies/group_shift.yaml`` is the shipped one)::

    task: synthetic
    task_options: {n: 800, group_cues: {F|A4: size, M|A4: size}}   # builder options
    model: tiny              # tiny: a tiny random VLM + a supervised warm start; or a model folder
    warm_start_steps: 50
    recipe: demo             # trainers/recipes/<name>.yaml or a file: the budget, the rewards
    overrides: {max_steps: 120}
    methods: [grpo, fairgrpo]
    seeds: 5                 # seeds 0..4 (or a list)
    baseline: grpo
    minority: {age_group: A4}
    eval_split: test
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from clinfair.benchmark.bootstrap import N_BOOTSTRAP
from clinfair.benchmark.metrics.registry import PAPER, STUDY, select_metrics
from clinfair.core.arguments import add_dataclass_arguments
from clinfair.core.errors import ClinfairError
from clinfair.core.io import atomic_write_json, atomic_write_text

#: paper-protocol overall values reported for every run (fractions)
PAPER_METRICS = ("accuracy", "f1", "acc_gap", "f1_gap", "tpr_gap", "fpr_gap", "fdr_gap")
#: column labels, from the metric registry (the paper keys and the minority's accuracy and gap)
LABELS = {m.key: m.label for m in (*select_metrics(PAPER, PAPER_METRICS), *select_metrics(STUDY))}


@dataclass
class StudyConfig:
    task: str = "synthetic"
    task_options: dict[str, Any] = field(default_factory=dict)
    model: str = "tiny"
    warm_start_steps: int = 50
    recipe: str = "demo"
    overrides: dict[str, Any] = field(default_factory=dict)
    methods: list[str] = field(default_factory=lambda: ["grpo", "fairgrpo"])
    seeds: int | list[int] = 5
    baseline: str = "grpo"
    minority: dict[str, str] = field(default_factory=dict)
    eval_split: str = "test"
    eval_limit: int | None = None
    max_new_tokens: int = 24
    eval_batch_size: int = 32
    n_bootstrap: int = 200
    # torch CPU threads; 1 by default: a tiny model gains nothing from more, and on a busy
    # machine two threads stall each other at every OpenMP barrier (measured: 0.5-0.7 s per
    # demo GRPO step with 1 thread vs 1.5-24 s with 2, at load 4.5 on 2 cores). null: torch's choice.
    torch_threads: int | None = 1

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else [int(s) for s in self.seeds]

    def check(self, where: str) -> None:
        from clinfair.trainers.methods import METHODS

        unknown = sorted(set(self.methods) - set(METHODS))
        if unknown or not self.methods:
            raise ClinfairError(
                f"{where}: methods {unknown or '[]'} unknown; choose from {', '.join(METHODS)}"
            )
        if self.baseline not in self.methods:
            raise ClinfairError(
                f"{where}: baseline {self.baseline!r} is not one of the methods {self.methods}"
            )
        if not self.seed_list or len(set(self.seed_list)) != len(self.seed_list):
            raise ClinfairError(f"{where}: seeds must be a positive count or a list of distinct seeds")
        if len(self.minority) > 1:
            raise ClinfairError(
                f"{where}: minority names one attribute and its group, e.g. {{age_group: A4}}"
            )
        for key in ("max_new_tokens", "eval_batch_size"):
            if not (isinstance(getattr(self, key), int) and getattr(self, key) >= 1):
                raise ClinfairError(f"{where}: {key} must be a whole number >= 1, got {getattr(self, key)!r}")
        if self.eval_limit is not None and not (isinstance(self.eval_limit, int) and self.eval_limit >= 1):
            raise ClinfairError(
                f"{where}: eval_limit must be null or a whole number >= 1, got {self.eval_limit!r}"
            )

    def check_recipes(self) -> None:
        """Resolve the recipe for every method now (a bad override fails before data, warm start and
        evaluations, not at the first run); paths are placeholders, set per run by :func:`train_run`."""
        for method in self.methods:
            recipe_for(self, method, 0, Path("model"), Path("data"), Path("run"))


def load_config(path: str | Path) -> StudyConfig:
    """Read a study YAML; an unknown key or a wrong type is a ClinfairError naming the file and key."""
    import yaml

    from clinfair.core.yamlio import check_keys, load_yaml

    path = Path(path)
    if not path.is_file():
        raise ClinfairError(f"study config {path} not found")
    try:
        values = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ClinfairError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise ClinfairError(f"{path}: a study config is a YAML mapping")
    check_keys(values, [f.name for f in dataclasses.fields(StudyConfig)], str(path))
    for key in ("task_options", "overrides", "minority"):
        if key in values and not isinstance(values[key], dict):
            raise ClinfairError(f"{path}: {key} must be a mapping")
    for key in ("warm_start_steps", "n_bootstrap"):
        if key in values and not (isinstance(values[key], int) and values[key] >= 0):
            raise ClinfairError(f"{path}: {key} must be a whole number >= 0, got {values[key]!r}")
    config = StudyConfig(**values)
    config.check(str(path))
    return config


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def run_name(method: str, seed: int) -> str:
    return f"{method}-seed{seed}"


def prepare_inputs(config: StudyConfig, out: Path) -> tuple[Path, Path]:
    """Prepared data (``OUT/data/<task>``) and the shared initial model; both built once.
    Also sets torch's CPU threads for the whole study (``StudyConfig.torch_threads``)."""
    if config.torch_threads:
        import torch

        torch.set_num_threads(config.torch_threads)
    from clinfair.tasks import get_task
    from clinfair.tasks.prepare import prepare

    data_dir = out / "data"
    folder = data_dir / config.task
    stamp = out / "inputs.json"
    inputs = {
        "task": config.task,
        "task_options": config.task_options,
        "model": config.model,
        "warm_start_steps": config.warm_start_steps,
    }
    if stamp.exists() and json.loads(stamp.read_text()) != json.loads(json.dumps(inputs)):
        raise ClinfairError(f"{out} holds a study with other data or model ({stamp}); use another --out")
    if not (folder / "dataset_dict.json").exists():
        tqdm.write(f"[study] preparing {config.task} with {config.task_options or 'its default options'}")
        prepare(get_task(config.task), folder, options=config.task_options, overwrite=True, progress=False)
    model = Path(config.model) if config.model != "tiny" else _tiny_warm_start(config, out, folder)
    atomic_write_json(stamp, inputs)
    return data_dir, model


def _tiny_warm_start(config: StudyConfig, out: Path, data: Path) -> Path:
    """A tiny random VLM, taught the answer format (and true labels) for a few supervised steps."""
    from clinfair.benchmark.models import build_tiny_vlm, load_model_and_processor
    from clinfair.tasks.prepare import load_prepared
    from clinfair.trainers.warmstart import format_warm_start

    base, warm = out / "models" / "base", out / "models" / "warm-start"
    if not (base / "config.json").exists():
        build_tiny_vlm(base)
    if config.warm_start_steps == 0:
        return base
    if not (warm / "config.json").exists():
        tqdm.write(f"[study] supervised warm start ({config.warm_start_steps} steps)")
        model, processor = load_model_and_processor(base)
        train = load_prepared(data)["train"]
        format_warm_start(
            model,
            processor,
            [train[i] for i in range(len(train))],
            steps=config.warm_start_steps,
            true_labels=True,
        )
        model.save_pretrained(warm)
        processor.save_pretrained(warm)
    return warm


def train_run(
    config: StudyConfig,
    method: str,
    seed: int,
    model: Path,
    data_dir: Path,
    folder: Path,
    timings: dict[str, float] | None = None,
) -> Path:
    """Train one run into ``folder``; a finished model is reused, an unfinished one restarted.
    ``timings`` receives ``callback_s``, the seconds spent in fairness evaluations."""
    timings = {} if timings is None else timings
    from transformers import PrinterCallback

    from clinfair.trainers.build import build_trainer

    if (folder / "model.safetensors").exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)  # a killed run: its partial logs would mix with the new ones
    recipe = recipe_for(config, method, seed, model, data_dir, folder)
    trainer = build_trainer(recipe)
    trainer.remove_callback(PrinterCallback)  # progress is the study's; logs go to fairness.jsonl
    callback_s = _time_fairness_evaluations(trainer)
    trainer.train()
    trainer.save_model(str(folder))
    timings["callback_s"] = sum(callback_s)
    return folder


def recipe_for(config: StudyConfig, method: str, seed: int, model: Path, data_dir: Path, folder: Path):
    """The resolved recipe of one run: the study's recipe and overrides, then the run's own keys."""
    from clinfair.trainers.recipes import load_recipe

    overrides = {
        **config.overrides,
        "model": str(model),
        "data_dir": str(data_dir),
        "output_dir": str(folder),
        "seed": seed,
        "tasks": [config.task],
    }
    return load_recipe(config.recipe, method, [f"{k}={json.dumps(v)}" for k, v in overrides.items()])


def _time_fairness_evaluations(trainer) -> list[float]:
    """Seconds of each fairness-callback evaluation (where a run's time goes)."""
    from clinfair.trainers.callbacks import FairnessCallback

    seconds: list[float] = []
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, FairnessCallback):
            evaluate = callback.evaluate

            def timed(evaluate=evaluate):
                start = time.perf_counter()
                try:
                    return evaluate()
                finally:
                    seconds.append(time.perf_counter() - start)

            callback.evaluate = timed
    return seconds


def evaluate_run(
    config: StudyConfig, model: Path, name: str, method: str | None, data_dir: Path, folder: Path
) -> Path:
    """Evaluate one model on the study's split (``clinfair.benchmark.evaluate``); its metrics table goes
    to ``folder/summary.txt``, not the terminal (the study's report is what a person reads)."""
    from clinfair.benchmark.evaluate import evaluate
    from clinfair.benchmark.generation import GenerationSettings
    from clinfair.benchmark.runner import EvalRequest
    from clinfair.commands.eval import summary_table

    request = EvalRequest(
        model=str(model),
        tasks=(config.task,),
        split=config.eval_split,
        limit=config.eval_limit,
        generation=GenerationSettings(
            max_new_tokens=config.max_new_tokens, batch_size=config.eval_batch_size
        ),
        backend="hf",
        dtype="auto",
        run_name=name,
        method=method,
        scores="direct",
    )
    results = evaluate(request, data_dir, folder, n_bootstrap=config.n_bootstrap, progress=False)
    atomic_write_text(folder / "summary.txt", summary_table(results) + "\n")
    return folder


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Silence transformers', datasets' and the Hub's progress bars and warnings for a study:
    each of its dozens of loads and saves would print its own (a run's details go to its folder)."""
    import datasets
    import huggingface_hub.utils as hub_utils
    from transformers.utils import logging as hf_logging

    verbosity, bars_on = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    datasets_bars_on, hub_bars_on = (
        datasets.is_progress_bar_enabled(),
        not hub_utils.are_progress_bars_disabled(),
    )
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    hub_utils.disable_progress_bars()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars_on:
            hf_logging.enable_progress_bar()
        if datasets_bars_on:
            datasets.enable_progress_bars()
        if hub_bars_on:
            hub_utils.enable_progress_bars()


def run_study(config: StudyConfig, out: Path, progress: bool = True, bar: Any = None) -> dict[str, Any]:
    """Every (method, seed) run not yet finished, then the report; returns the report's JSON.

    Progress is one bar, advanced once per run: ``bar`` (a tqdm the caller owns, e.g. the
    demo's, which counts its own steps too) or one made here."""

    config.check_recipes()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "study.json", dataclasses.asdict(config))
    runs = [(method, seed) for seed in config.seed_list for method in config.methods]
    own_bar = bar is None
    if own_bar:
        bar = tqdm(total=len(runs), desc="[study] runs", unit="run", disable=not progress)
    with quiet_libraries():
        data_dir, model = prepare_inputs(config, out)
        for method, seed in runs:
            name = run_name(method, seed)
            folder = out / "runs" / name
            if not (folder / "run.json").exists():
                bar.set_postfix_str(f"{name}: training")
                start, timings = time.perf_counter(), {}
                trained = train_run(config, method, seed, model, data_dir, folder / "train", timings)
                train_s = time.perf_counter() - start
                bar.set_postfix_str(f"{name}: evaluating")
                evaluate_run(config, trained, name, method, data_dir, folder / "eval")
                atomic_write_json(
                    folder / "run.json",
                    {
                        "method": method,
                        "seed": seed,
                        "train_s": train_s,
                        "eval_s": time.perf_counter() - start - train_s,
                        **timings,
                    },
                )
            bar.update()
    if own_bar:
        bar.close()
    summary = summarise(config, out)
    atomic_write_json(out / "report.json", summary)
    atomic_write_text(out / "report.md", render(summary))
    return summary


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def run_metrics(eval_dir: Path, task: str, minority: dict[str, str]) -> dict[str, float | None]:
    """Paper-protocol overall values, plus the minority's accuracy and gap from the predictions."""
    from clinfair.benchmark.eval_result import EvalResult

    result = EvalResult.load(eval_dir)
    results = result.results
    paper = results["metrics"]["paper"]["overall"]
    values: dict[str, float | None] = {key: paper.get(key) for key in PAPER_METRICS}
    if minority:
        ((attribute, group),) = minority.items()
        rows = result.read_predictions(columns=["dataset", attribute, "correct"])
        rows = rows[rows["dataset"] == task]
        inside = rows[attribute].astype(str) == str(group)
        if inside.any() and (~inside).any():
            values["minority_acc"] = float(rows.loc[inside, "correct"].mean())
            values["minority_gap"] = float(rows.loc[~inside, "correct"].mean() - values["minority_acc"])
    return values


def _paired_rows(config: StudyConfig, out: Path, method: str, seeds: list[int]):
    """The predictions of ``method`` and the baseline on the same rows, all seeds pooled.

    Rows are matched by ``clinfair.benchmark.compare.align``, which refuses runs on other rows or other
    ground truth (a study resumed with another eval split or limit) instead of dropping rows.
    """
    import pandas as pd

    from clinfair.benchmark.compare import CompareError, align, load_run

    frames = []
    for seed in seeds:
        folders = [out / "runs" / run_name(m, seed) / "eval" for m in (config.baseline, method)]
        try:
            base, mine = align(*(load_run(folder) for folder in folders))
        except CompareError as error:
            raise ClinfairError(f"seed {seed}: {error}") from None
        frames.append(
            mine.assign(
                prediction_baseline=base["prediction"].to_numpy(), id=mine["id"].astype(str) + f"#seed{seed}"
            )
        )
    return pd.concat(frames, ignore_index=True)


def summarise(config: StudyConfig, out: Path) -> dict[str, Any]:
    from clinfair.benchmark.metrics import paired_bootstrap
    from clinfair.benchmark.seedstats import holm, paired_t_pvalue, t_interval

    per_run: dict[str, dict[int, dict[str, float | None]]] = {}
    timings = []
    for method in config.methods:
        for seed in config.seed_list:
            folder = out / "runs" / run_name(method, seed)
            if (folder / "run.json").exists():
                per_run.setdefault(method, {})[seed] = run_metrics(
                    folder / "eval", config.task, config.minority
                )
                timings.append(json.loads((folder / "run.json").read_text()))
    metrics = [*PAPER_METRICS, *(("minority_acc", "minority_gap") if config.minority else ())]
    summary: dict[str, Any] = {
        "config": dataclasses.asdict(config),
        "metrics": metrics,
        "methods": {},
        "differences": {},
        "runs": timings,
    }
    if timings:
        summary["seconds_per_run"] = t_interval([t["train_s"] + t["eval_s"] for t in timings]).__dict__
    for method, runs in per_run.items():
        summary["methods"][method] = {"seeds": sorted(runs), "per_seed": {str(s): v for s, v in runs.items()}}
        for key in metrics:
            values = [v[key] for v in runs.values() if v.get(key) is not None]
            summary["methods"][method][key] = t_interval(values).__dict__ if values else None
    base_runs = per_run.get(config.baseline, {})
    attribute = next(iter(config.minority), None)
    for method, runs in per_run.items():
        if method == config.baseline:
            continue
        seeds = sorted(set(runs) & set(base_runs))
        if not seeds:
            continue
        entry: dict[str, Any] = {"seeds": seeds, "by_metric": {}}
        pvalues = []
        for key in metrics:
            pairs = [
                (runs[s][key], base_runs[s][key])
                for s in seeds
                if runs[s].get(key) is not None and base_runs[s].get(key) is not None
            ]
            if not pairs:
                entry["by_metric"][key] = None
                pvalues.append(None)
                continue
            mine, base = zip(*pairs)
            diff = t_interval([a - b for a, b in pairs])
            p = paired_t_pvalue(mine, base)
            entry["by_metric"][key] = {"diff": diff.__dict__, "p": p}
            pvalues.append(p)
        for key, adjusted in zip(metrics, holm(pvalues)):
            if entry["by_metric"][key] is not None:
                entry["by_metric"][key]["p_holm"] = adjusted
        rows = _paired_rows(config, out, method, seeds)
        boot = paired_bootstrap(
            rows,
            column_b="prediction_baseline",
            metric="accuracy",
            attribute=attribute,
            n_bootstrap=N_BOOTSTRAP,
            seed=0,
        )["by_dataset"].get(config.task, {})
        entry["bootstrap"] = _bootstrap_entries(boot)
        adjusted = holm([e.get("p") for e in entry["bootstrap"].values()])
        for e, p in zip(entry["bootstrap"].values(), adjusted):
            e["p_holm"] = p
        summary["differences"][method] = entry
    return summary


def _bootstrap_entries(boot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Accuracy difference on all rows and, with the minority's attribute, of the gap across
    its groups and of the worst group (``paired_bootstrap`` keys ``overall``, ``gap``, ``worst``)."""
    wanted = {
        "accuracy": boot.get("overall"),
        "gap (accuracy)": boot.get("gap"),
        "worst group (accuracy)": boot.get("worst"),
    }
    return {
        name: {"difference": e.get("difference"), "ci": e.get("ci"), "p": e.get("p_value")}
        for name, e in wanted.items()
        if isinstance(e, dict)
    }


def interval_text(interval: dict[str, Any] | None, scale: float = 100.0) -> str:
    """A stored ``seedstats.Interval`` as text (×100: points); a dash when there is none."""
    from clinfair.benchmark.seedstats import Interval

    return Interval(**interval).text(scale) if interval else "–"


def render(summary: dict[str, Any]) -> str:
    """The study report in Markdown: per-method intervals, paired differences, and the verdict."""
    config, metrics = summary["config"], summary["metrics"]
    baseline = config["baseline"]
    lines = [
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
        f"## Paired differences to {baseline} (method − {baseline}, same seeds)",
        "",
        "| method | metric | difference | paired t p | Holm p |",
        "|---|---|---|---|---|",
    ]
    significant, tested = [], 0
    for method, entry in summary["differences"].items():
        for key in metrics:
            e = entry["by_metric"].get(key)
            if not e:
                continue
            p, ph = e["p"], e.get("p_holm")
            tested += p is not None
            lines.append(
                f"| {method} | {LABELS[key]} | {interval_text(e['diff'])} | {_fmt_p(p)} | {_fmt_p(ph)} |"
            )
            if ph is not None and ph < 0.05:
                direction = "higher" if e["diff"]["mean"] > 0 else "lower"
                significant.append(
                    f"{method}'s {LABELS[key]} is {direction} than {baseline}'s by "
                    f"{abs(e['diff']['mean']) * 100:.1f} points (Holm p = {_fmt_p(ph)})"
                )
    lines += [
        "",
        "Row-level paired bootstrap (1000 resamples of the test rows, all seeds pooled; accuracy):",
        "",
        "| method | quantity | difference | 95 % CI | p | Holm p |",
        "|---|---|---|---|---|---|",
    ]
    for method, entry in summary["differences"].items():
        for name, e in entry["bootstrap"].items():
            ci = e.get("ci")
            ci_text = "–" if not ci else f"[{ci[0] * 100:.1f}, {ci[1] * 100:.1f}]"
            diff = e.get("difference")
            diff_text = "–" if diff is None else f"{diff * 100:.1f}"
            lines.append(
                f"| {method} | {name} | {diff_text} | {ci_text} | {_fmt_p(e.get('p'))} | "
                f"{_fmt_p(e.get('p_holm'))} |"
            )
    lines.append("")
    if significant:
        lines.append(
            "Significant at 5 % after Holm correction (paired t-test across seeds): "
            + "; ".join(significant)
            + "."
        )
    else:
        lines.append(
            f"No difference to {baseline} is significant at 5 % after Holm correction across metrics "
            f"({tested} paired t-tests across seeds)."
        )
    if "seconds_per_run" in summary:
        spr = summary["seconds_per_run"]
        lines.append(f"Time per run (train + eval): {interval_text(spr, 1.0)} s over {spr['n']} runs.")
    return "\n".join(lines) + "\n"


def _fmt_p(p: float | None) -> str:
    return "–" if p is None else f"{p:.2g}"


# --------------------------------------------------------------------------------------------
# Command
# --------------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class StudyArguments:
    """The arguments of ``clinfair study``.

    Parameters:
        config (`str`):
            The study YAML (e.g. ``configs/studies/group_shift.yaml``); positional.
        out (`Path`, *optional*):
            Output folder (default: ``study_out/<config name>``).
        seeds (`int`, *optional*):
            Overrides the config's number of seeds.
        methods (`str`, *optional*):
            Overrides the config's methods (comma-separated).
    """

    config: str = field(
        metadata={"help": "study YAML (e.g. configs/studies/group_shift.yaml)", "positional": True}
    )
    out: Path | None = field(
        default=None, metadata={"help": "output folder (default: study_out/<config name>)"}
    )
    seeds: int | None = field(default=None, metadata={"help": "override the config's number of seeds"})
    methods: str | None = field(
        default=None, metadata={"help": "override the config's methods (comma-separated)"}
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "study",
        help="methods x seeds on one task and budget, paired by seed: intervals and paired tests",
        description=__doc__.split("\n\n")[0],
    )
    add_dataclass_arguments(parser, StudyArguments)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.seeds is not None:
        config.seeds = args.seeds
    if args.methods:
        config.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    config.check("command line")
    out = args.out or Path("study_out") / Path(args.config).stem
    summary = run_study(config, out)
    print(render(summary))
    print(f"[study] report: {out / 'report.md'}")
    return 0
