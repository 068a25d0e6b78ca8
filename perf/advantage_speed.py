"""Speed of the FairGRPO advantage scaler over a long run (goal: flat time per step).

512 prompts x 10 rollouts per generation batch, 4 domains, 8 demographic groups, 200 steps,
in cumulative mode (explicit groups) and ND mode (K-means groups, bounded history). Prints
the time per step at steps 1, 100 and 200, the median over the 10 steps ending there, and
the ratios to step 1.

Then the cost in training: the tiny-VLM train-step time of FairGRPO over GRPO, measured in
one run (goal <= 1.02; see ``measure_train_step_ratio``).

    .venv/bin/python perf/advantage_speed.py [--steps 200] [--modes cumulative,nd,nd_unbounded]
                                             [--train-steps 20] [--train-rounds 4]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from clinfair.trainers.advantage import FairAdvantageConfig, FairAdvantageScaler

PROMPTS, ROLLOUTS = 512, 10
DOMAINS = ["chexpert", "ham10000", "pad_ufes", "vindr"]
GROUPS = [f"{sex}/A{age}" for sex in "FM" for age in range(1, 5)]

MODES = {
    "cumulative": FairAdvantageConfig(window="cumulative", grouping="explicit"),
    "nd": FairAdvantageConfig(window="cumulative", grouping="clusters"),
    # the authors' behaviour: the whole ND history re-clustered every step
    "nd_unbounded": FairAdvantageConfig(window="cumulative", grouping="clusters", max_history=None),
}


def synthetic_batch(rng: np.random.Generator) -> tuple[np.ndarray, list[str], list[str]]:
    """Binary rewards whose success rate depends on domain and group."""
    d = rng.integers(len(DOMAINS), size=PROMPTS)
    g = rng.integers(len(GROUPS), size=PROMPTS)
    p = 0.2 + 0.15 * d / len(DOMAINS) + 0.5 * g / len(GROUPS)
    rewards = (rng.random((PROMPTS, ROLLOUTS)) < p[:, None]).astype(float).ravel()
    domains = [DOMAINS[i] for i in np.repeat(d, ROLLOUTS)]
    groups = [GROUPS[i] for i in np.repeat(g, ROLLOUTS)]
    return rewards, domains, groups


def measure_scaler_speed(config: FairAdvantageConfig, steps: int, seed: int = 0) -> np.ndarray:
    """Seconds per scaler call, for each of ``steps`` successive generation batches."""
    rng = np.random.default_rng(seed)
    scaler = FairAdvantageScaler(config)
    seconds = np.empty(steps)
    for i in range(steps):
        batch = synthetic_batch(rng)
        start = time.perf_counter()
        scaler(*batch, ROLLOUTS)
        seconds[i] = time.perf_counter() - start
    return seconds


def report(name: str, seconds: np.ndarray) -> None:
    steps = len(seconds)
    marks = sorted({1, min(100, steps), steps})
    single = {m: seconds[m - 1] for m in marks}
    median = {m: float(np.median(seconds[max(0, m - 10) : m])) for m in marks}
    cells = ", ".join(f"step {m}: {single[m] * 1e3:.1f} ms (median10 {median[m] * 1e3:.1f})" for m in marks)
    print(f"{name:>13}: {cells}")
    print(
        f"{'':>13}  step{steps}/step1 = {single[steps] / single[1]:.2f}; "
        f"median10 at {steps} / median10 at {marks[1]} = {median[steps] / median[marks[1]]:.2f}"
    )


def measure_train_step_ratio(steps: int = 20, rounds: int = 4) -> dict[str, float]:
    """CPU seconds per train step of GRPO and of FairGRPO on the tiny VLM, in this process.

    Both trainers start from the same tiny random model with learning rate 0 and the same
    seed, so they generate the same completions and do the same forward and backward work;
    what differs is FairGRPO's own work (gathering the domain and group columns, recomputing
    the advantages with the scaler, swapping them in). Runs alternate GRPO / FairGRPO
    ``rounds`` times, ``steps`` timed steps each after one warm-up step. Step i of a GRPO run
    and step i of the FairGRPO run after it see the same batch, so the ratio is the median of
    these paired per-step ratios. Time is the process's CPU time with one torch thread: wall
    time on a busy 2-core host varies tenfold between identical steps, CPU time a few percent.
    """
    import tempfile
    from pathlib import Path

    import torch
    import transformers
    from clinfair.benchmark.models import build_tiny_vlm, load_model_and_processor
    from clinfair.tasks import get_task
    from clinfair.tasks.prepare import prepare
    from clinfair.trainers.data import build_grpo_dataset
    from clinfair.trainers.fairgrpo import FairGRPOConfig, FairGRPOTrainer
    from clinfair.trainers.grpo import GRPOConfig, GRPOTrainer
    from clinfair.trainers.rewards import format_reward, make_reward
    from transformers import PrinterCallback, TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            self.start = time.process_time()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds.append(time.process_time() - self.start)

    scaler_seconds: list[float] = []

    class TimedFairGRPO(FairGRPOTrainer):
        def compute_advantages(self, rewards, domains, groups):
            start = time.process_time()
            advantages = super().compute_advantages(rewards, domains, groups)
            scaler_seconds.append(time.process_time() - start)
            return advantages

    methods = {"grpo": (GRPOConfig, GRPOTrainer), "fairgrpo": (FairGRPOConfig, TimedFairGRPO)}
    step_seconds: dict[str, list[float]] = {name: [] for name in methods}
    transformers.logging.set_verbosity_error()  # the timings are the output, not the trainers' logs
    transformers.utils.logging.disable_progress_bar()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            model_dir = build_tiny_vlm(Path(tmp) / "tiny")
            prepare(
                get_task("synthetic"), Path(tmp) / "data" / "synthetic", options={"n": 300}, progress=False
            )
            dataset = build_grpo_dataset(["synthetic"], Path(tmp) / "data")
            # the ecr reward varies with completion length, so the advantages are not all 0
            rewards = [format_reward, make_reward("ecr", target_length=16)]
            settings = dict(
                output_dir=tmp,
                use_cpu=True,
                bf16=False,
                report_to="none",
                save_strategy="no",
                seed=0,
                max_steps=steps + 1,
                logging_steps=steps + 1,
                disable_tqdm=True,
                learning_rate=0.0,
                per_device_train_batch_size=8,
                num_generations=4,
                max_completion_length=16,
            )
            for _ in range(rounds):
                for name, (config_class, trainer_class) in methods.items():
                    model, processor = load_model_and_processor(model_dir, dtype="float32")
                    timer = StepTimer()
                    trainer = trainer_class(
                        model,
                        rewards,
                        args=config_class(**settings),
                        train_dataset=dataset,
                        processing_class=processor,
                        callbacks=[timer],
                    )
                    trainer.remove_callback(PrinterCallback)
                    trainer.train()
                    step_seconds[name] += timer.seconds[1:]
    finally:
        torch.set_num_threads(threads)
    paired = [fair / grpo for grpo, fair in zip(step_seconds["grpo"], step_seconds["fairgrpo"])]
    return {
        "grpo_s": statistics.median(step_seconds["grpo"]),
        "fairgrpo_s": statistics.median(step_seconds["fairgrpo"]),
        "ratio": statistics.median(paired),
        "scaler_s": statistics.median(scaler_seconds),
        "steps": len(paired),
    }


def report_train_steps(result: dict[str, float]) -> None:
    print(
        f"tiny-VLM train step ({result['steps']:.0f} paired steps, CPU time): GRPO {result['grpo_s'] * 1e3:.1f} ms, "
        f"FairGRPO {result['fairgrpo_s'] * 1e3:.1f} ms, of which the scaler {result['scaler_s'] * 1e3:.2f} ms; "
        f"FairGRPO / GRPO = {result['ratio']:.3f} (goal <= 1.02)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--modes", default="cumulative,nd", help=f"comma-separated, from {sorted(MODES)}")
    parser.add_argument(
        "--train-steps", type=int, default=20, help="timed tiny-VLM steps per run; 0 skips it"
    )
    parser.add_argument("--train-rounds", type=int, default=4, help="GRPO / FairGRPO run pairs")
    args = parser.parse_args()
    print(
        f"{PROMPTS} prompts x {ROLLOUTS} rollouts, {len(DOMAINS)} domains, {len(GROUPS)} groups, {args.steps} steps"
    )
    for name in args.modes.split(","):
        report(name, measure_scaler_speed(MODES[name], args.steps))
    if args.train_steps > 0:
        report_train_steps(measure_train_step_ratio(args.train_steps, args.train_rounds))


if __name__ == "__main__":
    main()
