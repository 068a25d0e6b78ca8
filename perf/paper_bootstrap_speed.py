"""The leaderboard's paper-protocol bootstrap: re-counting an encoded table vs re-reading each resample.

``clinfair.leaderboard.tables.paper_bootstrap`` (and ``clinfair compare``'s paired version) score every
resample with ``MetricFrame.paper(rows)``, which reuses the table's encoding. The baseline, timed
in the same run on the same draws, is what they did before: ``paper_protocol`` on the drawn rows
as a new DataFrame, parsing every answer and prediction list again. Both must give the same
values (checked here); the ratio baseline / encoded is printed. The data are perf/metrics_speed.py's
synthetic predictions (four datasets, eight groups, 2 % invalid answers).

    python perf/paper_bootstrap_speed.py [--rows 20000] [--n-bootstrap 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

from clinfair.benchmark.metrics import MetricFrame, as_json, paper_protocol
from clinfair.benchmark.resampling import named_rng, stratified_rows
from clinfair.leaderboard.tables import _PAPER_COLUMNS, _strata
from metrics_speed import DATASETS, synthetic  # perf/ is on the path of a script run from it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--n-bootstrap", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    frame, _ = synthetic(args.rows, args.seed, DATASETS)
    frame = frame[list(_PAPER_COLUMNS)].reset_index(drop=True)
    spaces = {name: list(labels) for name, (labels, _, _) in DATASETS.items()}
    rng = named_rng(args.seed)
    strata = _strata(frame)
    draws = [stratified_rows(strata, rng) for _ in range(args.n_bootstrap)]

    start = time.perf_counter()
    metrics = MetricFrame(frame, label_spaces=spaces)
    encoded = [as_json(metrics.paper(rows))["overall"] for rows in draws]
    encoded_s = time.perf_counter() - start

    start = time.perf_counter()
    reread = [
        paper_protocol(frame.iloc[rows].reset_index(drop=True), label_spaces=spaces)["overall"]
        for rows in draws
    ]
    reread_s = time.perf_counter() - start

    assert encoded == reread, "the two ways disagree"
    print(f"{args.rows} rows, {args.n_bootstrap} resamples (same draws, same values)")
    print(f"re-reading each resample (before): {reread_s:7.2f} s")
    print(f"re-counting the encoded table:     {encoded_s:7.2f} s")
    print(f"ratio: {reread_s / encoded_s:.1f}x")


if __name__ == "__main__":
    main()
