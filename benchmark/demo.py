"""``clinfair demo``: the whole loop on the built-in synthetic task, on a laptop CPU.

A controlled fairness experiment. The synthetic task (``tasks/configs/synthetic.yaml``)
decides its label by the lesion's colour, a cue the model must read from the image, and
under-represents some demographic groups without making them intrinsically harder.

1. prepare the synthetic task and build a tiny random VLM (offline);
2. warm start: a short supervised step on the training split (``trainers.warmstart``,
   true labels, 50 steps), because a random model never writes ``\\boxed{label}`` and pure
   RL gets no reward at all. At 50 steps the model writes the format but has not yet
   picked up the cue: it gives every image the same label (the ``warm-start`` row of the
   table sits at the class prior), so reading the colour is left to RL. Two other starts
   were measured and rejected: a format-only warm start (random labels) left GRPO at the
   class prior for 150 steps; a 60-step supervised start already reads the cue (99 %
   accuracy), and RL then had nothing to learn (the five methods gave identical answers);
3. train GRPO, Dr.GRPO, resampling, FairGRPO and FairGRPO_ND from that same start, with
   the same budget, for each seed;
4. evaluate the untrained model, the warm start and every trained policy on the
   held-out test split (``clinfair eval``);
5. build the leaderboard (``index.html``, table, plots) and print a multi-seed table:
   mean and 95 % t-interval over seeds of accuracy, F1 and the group gaps.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.cli import UserError

METHODS = ("grpo", "dr_grpo", "resampling", "fairgrpo", "fairgrpo_nd")
TABLE_METRICS = (("exact", "Exact acc"), ("invalid", "Invalid"), ("accuracy", "Acc"), ("f1", "F1"), ("acc_gap", "ΔAcc"), ("f1_gap", "ΔF1"), ("pp", "PP"),
                 ("eod", "EOD"))  # fmt: skip
#: two-sided 95 % Student t quantiles by degrees of freedom (seeds - 1)
T_QUANTILE_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


@dataclass
class DemoSettings:
    out: Path = Path("demo_out")
    seeds: int = 3
    steps: int = 120
    methods: tuple[str, ...] = METHODS
    examples: int = 800  # synthetic rows over all splits
    warm_steps: int = 50
    rl_learning_rate: float = 7e-4
    prompts_per_step: int = 8
    num_generations: int = 4
    max_new_tokens: int = 24
    eval_limit: int | None = None
    timings: dict[str, float] = field(default_factory=dict)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the whole loop on the built-in synthetic task (CPU, offline, a few minutes)",
        description=__doc__.split("\n\n")[0],
    )
    defaults = DemoSettings()
    parser.add_argument(
        "--out", type=Path, default=defaults.out, help=f"output folder (default: {defaults.out})"
    )
    parser.add_argument("--seeds", type=int, default=defaults.seeds,
                        help=f"training seeds per method (default: {defaults.seeds})")  # fmt: skip
    parser.add_argument("--steps", type=int, default=defaults.steps,
                        help=f"GRPO steps per run (default: {defaults.steps})")  # fmt: skip
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated methods to train")
    parser.add_argument("--examples", type=int, default=defaults.examples,
                        help=f"synthetic rows over all splits (default: {defaults.examples})")  # fmt: skip
    parser.add_argument("--warm-steps", type=int, default=defaults.warm_steps,
                        help=f"supervised warm-start steps (default: {defaults.warm_steps})")  # fmt: skip
    parser.add_argument("--learning-rate", type=float, default=defaults.rl_learning_rate,
                        help=f"GRPO learning rate (default: {defaults.rl_learning_rate:g})")  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    unknown = sorted(set(methods) - set(METHODS) - {"dro"})
    if unknown:
        raise UserError(f"unknown method(s) {unknown}; choose from {', '.join((*METHODS, 'dro'))}")
    if args.seeds < 1 or args.steps < 1:
        raise UserError("--seeds and --steps must be at least 1")
    settings = DemoSettings(out=args.out, seeds=args.seeds, steps=args.steps, methods=methods,
                            examples=args.examples, warm_steps=args.warm_steps,
                            rl_learning_rate=args.learning_rate)  # fmt: skip
    table = run_demo(settings)
    print(table)
    return 0


def run_demo(settings: DemoSettings) -> str:
    """Run the experiment into ``settings.out``; returns the multi-seed table (Markdown)."""
    from tqdm.auto import tqdm

    from tasks import get_task
    from tasks.prepare import prepare

    out = settings.out
    data_dir = out / "data"
    start = time.perf_counter()
    if not (data_dir / "synthetic" / "dataset_dict.json").exists():
        print(f"[demo] preparing the synthetic task ({settings.examples} rows)")
        prepare(
            get_task("synthetic"), data_dir / "synthetic", options={"n": settings.examples}, overwrite=True
        )
    base = _base_model(out / "models" / "base")
    warm = _warm_start(base, out / "models" / "warm-start", data_dir, settings)
    settings.timings["setup_s"] = time.perf_counter() - start

    runs = [(method, seed) for seed in range(settings.seeds) for method in settings.methods]
    eval_dirs = [_evaluate(base, "untrained", None, data_dir, out, settings),
                 _evaluate(warm, "warm-start", None, data_dir, out, settings)]  # fmt: skip
    for method, seed in tqdm(runs, desc="[demo] train + eval", unit="run"):
        model_dir = _train(method, seed, warm, data_dir, out, settings)
        eval_dirs.append(_evaluate(model_dir, f"{method}-seed{seed}", method, data_dir, out, settings))
    settings.timings["total_s"] = time.perf_counter() - start

    _build_leaderboard(eval_dirs, out / "leaderboard", out / "train")
    table = multi_seed_table(eval_dirs, settings)
    (out / "demo_table.md").write_text(table + "\n")
    (out / "demo_timings.json").write_text(json.dumps(settings.timings, indent=2))
    return table


def _base_model(folder: Path) -> Path:
    from benchmark.models import build_tiny_vlm

    if not (folder / "config.json").exists():
        build_tiny_vlm(folder)
    return folder


def _warm_start(base: Path, folder: Path, data_dir: Path, settings: DemoSettings) -> Path:
    from benchmark.models import load_model_and_processor
    from tasks.prepare import load_prepared
    from trainers.warmstart import format_warm_start

    if (folder / "config.json").exists():
        return folder
    print(f"[demo] supervised warm start ({settings.warm_steps} steps)")
    model, processor = load_model_and_processor(base)
    train = load_prepared(data_dir / "synthetic")["train"]
    format_warm_start(model, processor, [train[i] for i in range(len(train))], steps=settings.warm_steps,
                      true_labels=True)  # fmt: skip
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _train(method: str, seed: int, warm: Path, data_dir: Path, out: Path, settings: DemoSettings) -> Path:
    from transformers import PrinterCallback

    from trainers.commands import build_trainer
    from trainers.recipes import load_recipe

    folder = out / "train" / f"{method}-seed{seed}"
    if (folder / "model.safetensors").exists():
        return folder
    overrides = {
        "model": str(warm), "data_dir": str(data_dir), "output_dir": str(folder), "seed": seed,
        "max_steps": settings.steps, "learning_rate": settings.rl_learning_rate,
        "per_device_train_batch_size": settings.prompts_per_step * settings.num_generations,
        "num_generations": settings.num_generations, "max_completion_length": settings.max_new_tokens,
    }  # fmt: skip
    recipe = load_recipe("demo", method, [f"{key}={value}" for key, value in overrides.items()])
    trainer = build_trainer(recipe)
    trainer.remove_callback(
        PrinterCallback
    )  # the demo's own progress bar is enough; logs go to fairness.jsonl
    trainer.train()
    trainer.save_model(str(folder))
    return folder


def _evaluate(
    model: Path, name: str, method: str | None, data_dir: Path, out: Path, settings: DemoSettings
) -> Path:
    from benchmark.cli import main

    folder = out / "eval" / name
    args = ["eval", "--model", str(model), "--tasks", "synthetic", "--data", str(data_dir), "--out", str(folder),
            "--max-new-tokens", str(settings.max_new_tokens), "--batch-size", "32", "--run-name", name,
            "--n-bootstrap", "200", "--no-progress"]  # fmt: skip
    if method:
        args += ["--method", method]
    if settings.eval_limit:
        args += ["--limit", str(settings.eval_limit)]
    if main(args) != 0:
        raise RuntimeError(f"evaluation of {name} failed")
    return folder


def _build_leaderboard(eval_dirs: list[Path], out: Path, train_dir: Path) -> None:
    from benchmark.cli import main

    dynamics = sorted(str(p) for p in train_dir.glob("*/fairness.jsonl"))
    args = ["leaderboard", "build", *map(str, eval_dirs), "--out", str(out)]
    if dynamics:
        args += ["--dynamics", *dynamics]
    if main(args) != 0:
        raise RuntimeError("building the leaderboard failed")


def _mean_ci(values: list[float]) -> tuple[float, float | None]:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None
    quantile = T_QUANTILE_95.get(len(values) - 1, 1.96)
    return mean, quantile * statistics.stdev(values) / math.sqrt(len(values))


def multi_seed_table(eval_dirs: list[Path], settings: DemoSettings) -> str:
    """Mean ± 95 % t-interval over seeds of the paper-protocol values, per method."""
    by_method: dict[str, list[dict[str, Any]]] = {}
    for folder in eval_dirs:
        results = json.loads((folder / "results.json").read_text())
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
            scale = 1.0 if key in ("pp", "eod") else 100.0  # everything in percent points
            mean, half = _mean_ci([v * scale for v in values])
            cells.append(f"{mean:.1f}" + (f" ± {half:.1f}" if half is not None else ""))
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Synthetic test split, in percent. Exact acc: answer equals the label; Invalid: no parsable "
                 f"answer. Acc, F1 and the gaps: paper protocol (one-vs-rest per label, group-averaged). ± is the 95 % "
                 f"t-interval over {settings.seeds} seed(s). {settings.steps} GRPO steps of "
                 f"{settings.prompts_per_step} prompts × {settings.num_generations} rollouts per run.")  # fmt: skip
    return "\n".join(lines)
