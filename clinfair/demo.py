"""``clinfair demo``: the group-shift fairness experiment, end to end, on a laptop CPU.

The primary result is the group-shift experiment in the simulator's world
(``clinfair.trainers.simulate``) with the demo task's 8 sex x age groups and shares, A4 reading
the other cue: FairGRPO vs GRPO over ``--sim-seeds`` paired seeds (30 by default, seconds), on a
primary endpoint declared here (the age-group accuracy gap, lower is better), with the paired
t-test, the exact sign-flip test and the power of the test for a 5-point difference.

The tiny-VLM study that follows is the end-to-end check of the whole loop (a few seeds: its
own power is printed beside it, and it is low). It is ``clinfair study`` with the demo's settings. The synthetic
task runs with ``GROUP_SHIFT`` (``tasks/builders/synthetic.py``): the oldest age bin (15 %
of the rows, visible by its darker background) decides benign/malignant by the lesion's
size, every other group by its colour, and each cue is uninformative where it is not the
rule. What the majority teaches therefore does not transfer to the minority: it must be
learned from the minority's own few prompts, which is what fairness-aware RL claims to help.

1. prepare the task and build a tiny random VLM (offline);
2. warm start: a short supervised step on the training split (``clinfair.trainers.warmstart``, true
   labels), because a random model never writes ``\\boxed{label}`` and pure RL gets no
   reward at all. At 60 steps the start reads the majority's colour cue (87-93 % on A1-A3)
   but hardly the minority's size cue (A4: 65 %): the minority gap is what RL must close;
3. train every method from that same start, with the same budget, for each seed (paired by
   seed: same data order);
4. evaluate the untrained model, the warm start and every trained policy on the held-out
   test split (``clinfair eval``);
5. build the leaderboard (``index.html``, table, plots) and print the study report: its
   verdict on the primary endpoint with its power, the mean and 95 % t-interval over seeds of
   exact accuracy, the invalid rate, accuracy, F1, every gap and the minority gap, and the
   secondary paired differences to GRPO. The unit of inference is the seed (training run).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clinfair.benchmark.metrics.registry import PAPER, RUN, get_metric, select_metrics
from clinfair.core.arguments import add_dataclass_arguments, from_namespace
from clinfair.core.errors import ClinfairError
from clinfair.core.io import atomic_write_json, atomic_write_text
from clinfair.study.config import StudyConfig
from clinfair.tasks import get_task
from clinfair.trainers.methods import METHODS

if TYPE_CHECKING:
    from clinfair.study.config import StudyConfig

#: the demo's primary endpoint, declared before it runs (the tiny-VLM check declares the same)
PRIMARY = {"metric": "accuracy", "attribute": "age_group", "gap": True, "direction": "lower"}
#: the difference (5 points of the age-group gap) whose power the demo reports
TARGET_EFFECT = 0.05
CONTROL_NOTE = (
    "grpo_renorm: GRPO with FairGRPO's batch re-normalisation and no group weights (the control arm)."
)

#: what fits the 10-minute budget on 2 CPU cores: GRPO, the strongest baseline, FairGRPO
#: (``clinfair study`` runs all five)
DEFAULT_METHODS = ("grpo", "resampling", "fairgrpo")
#: paper keys stored x100 (already in percent points)
PERCENT_KEYS = frozenset(m.key for m in select_metrics(PAPER) if m.percent)
TABLE_METRICS = (  # (row key, column label); labels from the metric registry
    ("exact", get_metric(RUN, "exact_match").label),
    ("invalid", get_metric(RUN, "invalid").label),
    *((key, get_metric(PAPER, key).label) for key in ("accuracy", "f1", "acc_gap", "f1_gap", "pp", "eod")),
)


@dataclass
class DemoSettings:
    """The demo's settings; every field is a ``clinfair demo`` flag (``clinfair.core.arguments``).

    Parameters:
        out (`Path`, *optional*, defaults to `demo_out`):
            Output folder: data, models, runs, evaluations, the leaderboard and the report.
        seeds (`int`, *optional*, defaults to `3`):
            Training seeds per method.
        steps (`int`, *optional*, defaults to `50`):
            GRPO steps per run.
        methods (`tuple[str]`, *optional*, defaults to `(grpo, resampling, fairgrpo)`):
            Methods trained (``clinfair.trainers.methods``); comma- or space-separated on the command line.
        examples (`int`, *optional*, defaults to `2000`):
            Synthetic rows over all splits (test: ~400 rows, ~60 of the A4 minority).
        warm_steps (`int`, *optional*, defaults to `60`):
            Supervised warm-start steps (measured: the start then reads colour, 87-93 % on
            A1-A3, but not size, A4 65 %).
        learning_rate (`float`, *optional*, defaults to `1e-5`):
            RL learning rate (GRPO seed 0 from the warm start: 7e-4, 2e-4, 5e-5 collapse; 1e-5 learns).
        prompts_per_step (`int`, *optional*, defaults to `8`):
            Prompts per GRPO step.
        num_generations (`int`, *optional*, defaults to `4`):
            Rollouts per prompt.
        max_new_tokens (`int`, *optional*, defaults to `24`):
            Tokens generated per rollout and per evaluation answer.
        eval_limit (`int`, *optional*):
            Evaluate only the first N test rows.
        sim_seeds (`int`, *optional*, defaults to `30`):
            Paired seeds of the primary result, the simulated group-shift experiment (0: skip it).
        workers (`int`, *optional*, defaults to `0`):
            Runs trained at once, each in its own single-threaded process; 0: one per CPU core
            (at most 4). The results do not depend on it, only the wall time.
    """

    out: Path = field(default=Path("demo_out"), metadata={"help": "output folder"})
    seeds: int = field(default=3, metadata={"help": "training seeds per method"})
    steps: int = field(default=50, metadata={"help": "GRPO steps per run"})
    methods: tuple[str, ...] = field(
        default=DEFAULT_METHODS,
        metadata={"help": f"methods to train, comma- or space-separated (any of: {', '.join(METHODS)})"},
    )
    examples: int = field(default=2000, metadata={"help": "synthetic rows over all splits"})
    warm_steps: int = field(default=60, metadata={"help": "supervised warm-start steps"})
    learning_rate: float = field(default=1e-5, metadata={"help": "RL learning rate"})
    prompts_per_step: int = field(default=8, metadata={"help": "prompts per GRPO step"})
    num_generations: int = field(default=4, metadata={"help": "rollouts per prompt"})
    max_new_tokens: int = field(default=24, metadata={"help": "tokens per rollout and per evaluation answer"})
    eval_limit: int | None = field(default=None, metadata={"help": "evaluate only the first N test rows"})
    sim_seeds: int = field(
        default=30,
        metadata={"help": "paired seeds of the simulated group-shift experiment (the primary result)"},
    )
    workers: int = field(
        default=0,
        metadata={"help": "runs trained at once, one process each (0: one per CPU core, at most 4)"},
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the whole loop on the built-in synthetic task (CPU, offline, a few minutes)",
        description=__doc__.split("\n\n")[0],
    )
    add_dataclass_arguments(parser, DemoSettings)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = from_namespace(DemoSettings, args)
    settings.methods = tuple(
        m.strip() for item in settings.methods for m in str(item).split(",") if m.strip()
    )
    unknown = sorted(set(settings.methods) - set(METHODS))
    if unknown:
        raise ClinfairError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    small = [
        f"--{name.replace('_', '-')} must be at least {least}"
        for name, least in (
            ("seeds", 1),
            ("steps", 1),
            ("examples", 1),
            ("warm_steps", 0),
            ("sim_seeds", 0),
            ("workers", 0),
        )
        if getattr(settings, name) < least
    ]
    if small:
        raise ClinfairError("; ".join(small))
    config = study_config(settings)
    config.check("the demo's settings")
    config.check_recipes()  # prompts per step, rollouts, learning rate: refused before any work
    table = run_demo(settings)
    print(table)
    out = settings.out
    print(
        f"\nwrote {out / 'demo_table.md'}; the leaderboard: {out / 'leaderboard' / 'index.html'}; "
        f"each evaluation's metrics: {out}/**/summary.txt"
    )
    return 0


def study_config(settings: DemoSettings) -> StudyConfig:
    """The demo as a study: group-shift synthetic task, the demo recipe with the demo's budget."""
    from clinfair.tasks.builders.synthetic import GROUP_SHIFT

    return StudyConfig(
        task="synthetic",
        task_options={"n": settings.examples, **GROUP_SHIFT},
        model="tiny",
        warm_start_steps=settings.warm_steps,
        recipe="demo",
        overrides={
            "max_steps": settings.steps,
            "learning_rate": settings.learning_rate,
            "per_device_train_batch_size": settings.prompts_per_step * settings.num_generations,
            "num_generations": settings.num_generations,
            "max_completion_length": settings.max_new_tokens,
        },
        methods=list(settings.methods),
        seeds=settings.seeds,
        baseline="grpo",
        primary=dict(PRIMARY),
        target_effect=TARGET_EFFECT,
        minority={"age_group": "A4"},
        eval_split="test",
        eval_limit=settings.eval_limit,
        max_new_tokens=settings.max_new_tokens,
        eval_batch_size=32,
        n_bootstrap=200,
        workers=settings.workers,
    )


def run_demo(settings: DemoSettings) -> str:
    """Run the experiment into ``settings.out``; returns the printed report (Markdown).

    The terminal shows one progress bar over every step (evaluations, runs, the leaderboard);
    each evaluation's own metrics table is in its folder's ``summary.txt``."""
    from tqdm.auto import tqdm

    from clinfair.study.report import render
    from clinfair.study.runner import model_folder, prepare_inputs, quiet_libraries, run_folder, run_study

    out = settings.out
    start, timings = time.perf_counter(), {}
    config = study_config(settings)
    config.check("the demo's settings")
    pairs = [(m, seed) for seed in config.seed_list for m in config.methods]
    runs = [run_folder(out, m, seed) for m, seed in pairs]
    bar = tqdm(total=len(runs) + 4, desc="clinfair demo", unit="step")
    primary = ""
    if settings.sim_seeds:
        bar.set_postfix_str(f"simulated group shift ({settings.sim_seeds} seeds)")
        simulated = simulated_group_shift(settings.sim_seeds)
        atomic_write_json(out / "primary.json", simulated)
        primary = primary_report(simulated)
    timings["simulation_s"] = time.perf_counter() - start
    bar.update()
    with quiet_libraries():
        bar.set_postfix_str("data and warm start")
        data_dir, warm = prepare_inputs(config, out)
        eval_dirs = []
        for model, name in ((out / "models" / "base", "untrained"), (warm, "warm-start")):
            bar.set_postfix_str(f"{name}: evaluating")
            eval_dirs.append(_evaluate(model, name, data_dir, out, config))
            bar.update()
        timings["setup_s"] = time.perf_counter() - start - timings["simulation_s"]
        summary = run_study(config, out, bar=bar, leaderboard=False)
        timings["runs_s"] = time.perf_counter() - start - timings["setup_s"] - timings["simulation_s"]
        eval_dirs += [run / "eval" for run in runs]
        board_start = time.perf_counter()
        bar.set_postfix_str("building the leaderboard")
        _build_leaderboard(
            eval_dirs,
            out / "leaderboard",
            [model_folder(out, m, seed) / "fairness.jsonl" for m, seed in pairs],
        )
        bar.update()
        bar.close()
    timings["leaderboard_s"] = time.perf_counter() - board_start
    timings["total_s"] = time.perf_counter() - start
    table = multi_seed_table(eval_dirs, settings)
    check = [
        f"## End-to-end check: the tiny VLM ({settings.seeds} seed(s) per method)",
        "",
        table,
        "",
        render(summary),
        verdict(summary, settings, runs),
    ]
    report = "\n".join([primary, *check] if primary else check)
    atomic_write_text(out / "demo_table.md", report)
    atomic_write_json(out / "demo_timings.json", timings)
    return report


def collapsed_runs(run_dirs: list[Path]) -> list[str]:
    """Runs that give every test image the same answer: a collapsed policy, no fairness signal."""
    from clinfair.benchmark.eval_result import EvalResult

    collapsed = []
    for run in run_dirs:
        answers = EvalResult.load(run / "eval").read_predictions(columns=["prediction"])["prediction"]
        if answers.map(lambda a: None if a is None else tuple(a)).nunique(dropna=False) == 1:  # None: invalid
            collapsed.append(run.name)
    return collapsed


def verdict(summary: dict[str, Any], settings: DemoSettings, run_dirs: list[Path]) -> str:
    """Whether the demo's seeds separate the methods, and what a study that might would cost."""
    from clinfair.benchmark.seedstats import Interval
    from clinfair.study.report import interval_text

    per_run = (summary.get("seconds_per_run") or {}).get("mean")
    cost = f"{per_run:.0f} s per run on this machine" if per_run else "see the time per run above"
    gap = (summary["methods"].get("grpo") or {}).get("minority_gap")
    lines = []
    if gap and gap.get("half") is not None:
        shown = "excludes 0" if Interval(**gap).excludes_zero() else "includes 0"
        lines.append(
            f"GRPO's minority gap (other rows minus the A4 minority's accuracy): {interval_text(gap)} points; "
            f"its 95 % interval over {settings.seeds} seeds {shown}."
        )
    collapsed = collapsed_runs(run_dirs)
    if collapsed:
        lines.append(
            f"{len(collapsed)} of {len(run_dirs)} trained runs give every test image the same answer "
            f"(a collapsed policy: {', '.join(collapsed)}); between those, differences say nothing "
            f"about fairness."
        )
    lines.append(
        f"{settings.seeds} seeds are few for RL on the tiny model (the power above): to plan a study that can "
        f"separate methods, run `clinfair study configs/studies/group_shift.yaml --plan --pilot {settings.out}` "
        f"({cost}; methods x seeds runs)."
    )
    return "\n".join(lines)


def _evaluate(model: Path, name: str, data_dir: Path, out: Path, config: StudyConfig) -> Path:
    from clinfair.study.runner import evaluate_run

    folder = out / "eval" / name
    if not (folder / "results.json").exists():
        evaluate_run(config, model, name, None, data_dir, folder)
    return folder


def _build_leaderboard(eval_dirs: list[Path], out: Path, dynamics_files: list[Path]) -> None:
    from clinfair.leaderboard.build import build_leaderboard

    # labelled by run (every file is called fairness.jsonl, in a folder named after its run)
    dynamics = [f"{p.parent.name}={p}" for p in dynamics_files if p.exists()]
    build_leaderboard(eval_dirs, out, dynamics=dynamics)


def multi_seed_table(eval_dirs: list[Path], settings: DemoSettings) -> str:
    """Mean ± 95 % t-interval over seeds of the paper-protocol values, per method."""
    from clinfair.benchmark.eval_result import EvalResult
    from clinfair.benchmark.seedstats import t_interval

    by_method: dict[str, list[dict[str, Any]]] = {}
    for folder in eval_dirs:
        results = EvalResult.load(folder).results
        name = results["run"]["method"] or results["run"]["name"]
        task = results["tasks"]["synthetic"]
        exact = {"exact": task["accuracy_exact"], "invalid": task["invalid_answers"] / task["rows"]}
        by_method.setdefault(name, []).append({**results["metrics"]["paper"]["overall"], **exact})
    header = "| method | seeds | " + " | ".join(label for _, label in TABLE_METRICS) + " |"
    lines = [header, "|" + "---|" * (len(TABLE_METRICS) + 2)]
    for name, rows in by_method.items():
        cells = []
        for key, _ in TABLE_METRICS:
            values = [row[key] for row in rows if row.get(key) is not None]
            if not values:
                cells.append("–")
                continue
            scale = 1.0 if key in PERCENT_KEYS else 100.0  # everything in percent points
            cells.append(t_interval(values).text(scale))
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Group-shift synthetic test split, in percent. Exact acc: answer equals the label; Invalid: no parsable "
        f"answer. Acc, F1 and the gaps: paper protocol (one-vs-rest per label, group-averaged). ± is the 95 % "
        f"t-interval over {settings.seeds} seed(s). {settings.steps} GRPO steps of "
        f"{settings.prompts_per_step} prompts × {settings.num_generations} rollouts per run."
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The primary result: the group-shift experiment in the simulator's world
# --------------------------------------------------------------------------------------------


def simulated_world():
    """The simulator's world with the demo task's 8 sex x age groups, at the task's shares; the
    groups ``GROUP_SHIFT`` plants on the size cue (F|A4, M|A4) read the simulator's cue b."""
    from clinfair.tasks.builders.synthetic import GROUP_SHIFT
    from clinfair.trainers import simulate

    shares = get_task("synthetic").options["group_shares"]
    shifted = GROUP_SHIFT["group_cues"]
    return simulate.World(
        groups=tuple(simulate.GroupSpec(g, float(s), "b" if g in shifted else "a") for g, s in shares.items())
    )


def age_gap(groups: dict[str, float]) -> float:
    """The age-group accuracy gap of one simulated run: per age bin the mean of its groups'
    accuracies (the simulated test set has as many prompts in every group), then max - min."""
    by_age: dict[str, list[float]] = {}
    for name, accuracy in groups.items():
        by_age.setdefault(name.partition("|")[2], []).append(accuracy)
    means = [sum(v) / len(v) for v in by_age.values()]
    return max(means) - min(means)


def simulated_group_shift(seeds: int) -> dict[str, Any]:
    """FairGRPO vs GRPO in :func:`simulated_world`, paired by seed, on the demo's primary endpoint;
    secondary: FairGRPO vs the control arm (GRPO with FairGRPO's batch re-normalisation and no
    group weights, ``simulate.CONTROL``), which separates the re-weighting from the rescaling."""
    from clinfair.benchmark.seedstats import holm
    from clinfair.study.statistics import ALPHA, interval, power_entry, seed_test
    from clinfair.trainers import simulate

    baseline, method, control = "grpo", "fairgrpo", simulate.CONTROL
    methods = (baseline, control, method)
    world, training = simulated_world(), simulate.Training()
    runs = {m: simulate.run_seeds(world, training, simulate.METHODS[m], list(range(seeds))) for m in methods}
    values = {m: [age_gap(r["groups"]) for r in results] for m, results in runs.items()}
    minority = {
        m: [(r["groups"]["F|A4"] + r["groups"]["M|A4"]) / 2 for r in results] for m, results in runs.items()
    }
    test = seed_test(values[method], values[baseline])
    secondary = {f"{method} vs {control}": seed_test(values[method], values[control])}
    for key in ("p", "p_sign_flip"):  # Holm over the secondary family (its size is printed)
        for entry, adjusted in zip(secondary.values(), holm([e[key] for e in secondary.values()])):
            entry[f"{key}_holm"] = adjusted
    return {
        "world": "demo task's 8 sex x age groups at its shares; F|A4 and M|A4 read cue b, the others cue a",
        "training": {
            "steps": training.steps,
            "prompts_per_step": training.prompts_per_step,
            "optimizer": training.optimizer,
            "learning_rate": training.lr,
        },
        "seeds": seeds,
        "baseline": baseline,
        "method": method,
        "order": list(methods),
        "primary": {"name": "age_group accuracy gap", **PRIMARY},
        "per_seed": {m: {"age_gap": values[m], "a4_accuracy": minority[m]} for m in methods},
        "methods": {
            m: {
                "age_gap": interval(values[m]),
                "a4_accuracy": interval(minority[m]),
                "accuracy": interval([r["accuracy"] for r in runs[m]]),
            }
            for m in methods
        },
        "test": test,
        "power": power_entry(test["sd"], seeds, TARGET_EFFECT, ALPHA),
        "secondary": secondary,
    }


def primary_report(result: dict[str, Any]) -> str:
    """The primary result's Markdown: the verdict line (with its power), then a small table."""
    from clinfair.study.report import fmt_p, interval_text, power_text, sign_flip_text
    from clinfair.study.statistics import significant

    test, base, method = result["test"], result["baseline"], result["method"]
    # one primary test: Holm over a family of one leaves its p-values as they are
    decided = significant({**test, "p_holm": test["p"], "p_sign_flip_holm": test["p_sign_flip"]})
    better = test["diff"]["mean"] < 0  # a gap: lower is better
    call = (
        f"{method} {'narrows' if better else 'widens'} the gap significantly"
        if decided
        else f"no significant difference between {method} and {base}"
    )
    power = result["power"]
    weak = "" if (power.get("power") or 0) >= 0.8 else " (UNDERPOWERED, see its power)"
    lines = [
        f"## Primary result: group shift in the simulator's world ({result['seeds']} paired seeds)",
        "",
        f"**Verdict**{weak}: age-group accuracy gap, {method} − {base}: {interval_text(test['diff'])} points; "
        f"paired t p = {fmt_p(test['p'])}, {sign_flip_text(result['seeds'], test['p_sign_flip'])}: {call}; "
        f"{power_text(power)}.",
        "",
        "| method | seeds | age-group gap | A4 accuracy | accuracy |",
        "|---|---|---|---|---|",
    ]
    for name in result.get("order", (base, method)):  # in this order: a JSON round trip sorts the keys
        entry = result["methods"][name]
        cells = [interval_text(entry[k]) for k in ("age_gap", "a4_accuracy", "accuracy")]
        lines.append(f"| {name} | {result['seeds']} | " + " | ".join(cells) + " |")
    secondary = result.get("secondary") or {}
    if secondary:
        lines += ["", f"Secondary (Holm over {len(secondary)} test(s)), age-group accuracy gap:"]
        for label, e in secondary.items():
            lines.append(
                f"- {label}: {interval_text(e['diff'])} points; paired t p = {fmt_p(e['p'])}, "
                f"{sign_flip_text(result['seeds'], e['p_sign_flip'])}; Holm p {fmt_p(e['p_holm'])}, "
                f"{fmt_p(e['p_sign_flip_holm'])}."
            )
    training = result["training"]
    lines += [
        "",
        f"{training['steps']} steps of {training['prompts_per_step']} prompts, optimiser "
        f"{training['optimizer']} at learning rate {training['learning_rate']:g}; "
        f"{CONTROL_NOTE} The simulator (`clinfair simulate`'s policy and advantage functions) with the demo "
        "task's 8 sex x age groups at its shares, A4 reading another cue than the rest; percent, ± the 95 % "
        "t-interval over seeds. "
        "Unit of inference: the seed (a training run); the test is paired by seed.",
        "",
    ]
    return "\n".join(lines)
