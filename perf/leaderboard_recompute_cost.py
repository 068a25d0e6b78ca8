"""What recomputing every number from predictions.parquet costs ``clinfair leaderboard build``.

The build recomputes each run's metrics report as ``clinfair metrics`` does (with the resamples
and seed ``results.json`` records) and refuses a run whose ``results.json`` disagrees
(``clinfair.leaderboard.tables.recompute``). The baseline, timed in the same run on the same
folders, is the build as it was before: the stored report trusted as is (``recompute`` replaced
by a function returning ``results.json``'s metrics). Both builds must write the same tables
(checked here); the ratio with / without is printed.

The board: one real ``clinfair eval`` of the tiny VLM on the synthetic task (``--n-bootstrap``
resamples per eval, 1000 by default as ``clinfair eval``), copied into ``--runs`` runs whose
predictions are redrawn at random (80 % right, 5 % invalid) with results.json rewritten as eval
writes it.

    python perf/leaderboard_recompute_cost.py [--runs 20] [--rows 1000] [--eval-bootstrap 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def seed_run(root: Path, rows: int, eval_bootstrap: int) -> Path:
    from clinfair.benchmark.models import build_tiny_vlm
    from clinfair.tasks import get_task
    from clinfair.tasks.prepare import prepare

    from clinfair.cli import main

    model = build_tiny_vlm(root / "tiny-vlm")
    prepare(get_task("synthetic"), root / "data" / "synthetic", options={"n": rows}, progress=False)
    out = root / "seed"
    argv = [
        "eval",
        "--model",
        str(model),
        "--tasks",
        "synthetic",
        "--data",
        str(root / "data"),
        "--out",
        str(out),
    ]
    argv += ["--max-new-tokens", "4", "--n-bootstrap", str(eval_bootstrap), "--no-progress"]
    assert main(argv) == 0
    return out


def variant(seed: Path, target: Path, name: str, rng: np.random.Generator) -> Path:
    from clinfair.benchmark.metrics import build_report

    shutil.copytree(seed, target)
    frame = pd.read_parquet(target / "predictions.parquet")
    draws = rng.random(len(frame))
    frame["prediction"] = [
        None if u < 0.05 else list(answer) if u < 0.85 else [next(c for c in choices if c not in answer)]
        for u, choices, answer in zip(draws, frame["choices"], frame["answer"])
    ]
    frame["valid"] = [p is not None for p in frame["prediction"]]
    frame["correct"] = [
        p is not None and set(p) == set(a) for p, a in zip(frame["prediction"], frame["answer"])
    ]
    frame.to_parquet(target / "predictions.parquet", index=False)
    results = json.loads((target / "results.json").read_text())
    settings = results["metrics"]["settings"]
    results["metrics"] = build_report(
        frame,
        label_spaces={task: info["label_space"] for task, info in results["tasks"].items()},
        attributes=settings["attributes"],
        n_bootstrap=settings["n_bootstrap"],
        seed=settings["seed"],
        min_group_size=settings["min_group_size"],
        ci_level=settings["ci_level"],
    )
    for task, info in results["tasks"].items():
        part = frame[frame["dataset"] == task]
        info.update(
            invalid_answers=int((~part["valid"]).sum()),
            invalid_rate=float((~part["valid"]).mean()),
            accuracy_exact=float(part["correct"].mean()),
        )
    results["run"]["name"] = name
    (target / "results.json").write_text(json.dumps(results))
    return target


def timed_build(folders: list[Path], out: Path, *, recompute: bool) -> tuple[float, pd.DataFrame]:
    from clinfair.leaderboard import tables
    from clinfair.leaderboard.build import build_leaderboard

    real = tables.recompute
    if not recompute:
        tables.recompute = lambda run: run.results["metrics"]  # the old build: results.json trusted
    try:
        start = time.perf_counter()
        build_leaderboard(folders, out)
        elapsed = time.perf_counter() - start
    finally:
        tables.recompute = real
    return elapsed, pd.read_parquet(out / "leaderboard.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--rows", type=int, default=1000, help="rows of the synthetic task (its test split is a share)"
    )
    parser.add_argument("--eval-bootstrap", type=int, default=1000, help="resamples each eval recorded")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        seed = seed_run(root, args.rows, args.eval_bootstrap)
        rng = np.random.default_rng(0)
        folders = [variant(seed, root / f"run-{i:02d}", f"run-{i:02d}", rng) for i in range(args.runs)]
        rows = json.loads((seed / "results.json").read_text())["tasks"]["synthetic"]["rows"]
        with_s, without_s = [], []
        for repeat in range(args.repeats):  # alternate, so neither side gets a warmer machine
            elapsed, plain = timed_build(folders, root / f"without-{repeat}", recompute=False)
            without_s.append(elapsed)
            elapsed, checked = timed_build(folders, root / f"with-{repeat}", recompute=True)
            with_s.append(elapsed)
        # the numbers are the same; only the valid/correct columns could differ, and here they are honest
        pd.testing.assert_frame_equal(plain, checked)
    print(
        f"{args.runs} runs x {rows} rows, eval resamples {args.eval_bootstrap}, build resamples 200 (default)\n"
        f"build without recompute: {min(without_s):.2f} s (best of {args.repeats})\n"
        f"build with recompute:    {min(with_s):.2f} s (best of {args.repeats})\n"
        f"ratio with / without:    {min(with_s) / min(without_s):.2f}"
    )


if __name__ == "__main__":
    main()
