"""Speed of ``clinfair simulate`` (goal: the default study in < 60 s on 2 cores).

Prints (1) the time per seed-run of each method on the 10 %-minority world, 25 seeds stepped
together, and its ratio to GRPO's; (2) GRPO one seed at a time over 25 seeds stepped
together (what the seed axis buys); GRPO under each update rule, best of 3 (what Adam's
moments cost per run); (3) the wall time of the default study with the given
workers under the Adam rule (the default) and under plain SGD (the earlier rule, the
baseline), measured in the same run, and their ratio. The load average is printed before
and after: the machine is shared, and load inflates every number.

    .venv/bin/python perf/simulate_speed.py [--workers 2] [--seeds 100] [--nd-seeds 20] [--skip-study]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

from clinfair.trainers.simulate import (
    METHODS,
    Training,
    default_study,
    group_shift,
    run_one,
    run_seeds,
    run_study,
)


def per_seed_ms(method: str, seeds: int = 25, together: bool = True, optimizer: str = "adam") -> float:
    world, training = group_shift(0.1), Training(optimizer=optimizer)
    start = time.perf_counter()
    if together:
        run_seeds(world, training, METHODS[method], list(range(seeds)))
    else:
        for seed in range(seeds):
            run_one(world, training, METHODS[method], seed)
    return (time.perf_counter() - start) / seeds * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--nd-seeds", type=int, default=20)
    parser.add_argument("--skip-study", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    baseline = per_seed_ms("grpo")
    print(f"{'method':<22} ms/seed-run  ratio to grpo")
    for method in (
        "grpo",
        "grpo_renorm",
        "dr_grpo",
        "resampling",
        "dro",
        "fairgrpo",
        "fairgrpo_reference",
        "fairgrpo_nd",
    ):
        ms = baseline if method == "grpo" else per_seed_ms(method, 5 if "nd" in method else 25)
        print(f"{method:<22} {ms:10.1f}  {ms / baseline:8.2f}")
    # the update rule alone: GRPO under each rule, interleaved (load drifts), best of 3
    best = {rule: min(per_seed_ms("grpo", optimizer=rule) for _ in range(3)) for rule in ("sgd", "adam")}
    print(
        f"grpo per seed-run, best of 3: sgd {best['sgd']:.1f} ms, adam {best['adam']:.1f} ms, "
        f"adam / sgd {best['adam'] / best['sgd']:.2f}"
    )
    alone = per_seed_ms("grpo", together=False)
    print(f"grpo one seed at a time: {alone:.1f} ms/seed-run, {alone / baseline:.2f}x the stacked seeds")
    if not args.skip_study:
        walls = {}
        for optimizer in ("sgd", "adam"):  # the baseline first
            study = default_study(args.seeds, "abcd", args.nd_seeds)
            study.training = replace(study.training, optimizer=optimizer)
            start = time.perf_counter()
            run_study(study, args.workers)
            walls[optimizer] = time.perf_counter() - start
            runs = len(
                {(s.world, m, k) for s in study.settings for m in s.methods for k in range(study.seeds_of(s))}
            )
            print(
                f"default study, {optimizer}: {runs} runs ({args.seeds} seeds, {args.nd_seeds} for (c)) in "
                f"{walls[optimizer]:.1f} s with {args.workers} workers; goal < 60 s"
            )
        print(f"default study time adam / sgd: {walls['adam'] / walls['sgd']:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
