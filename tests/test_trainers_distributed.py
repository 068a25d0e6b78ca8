"""FairGRPO in the trainer: the advantages used are the scaler's, over the gathered batch.

One run in this process (per-device batch 6) and a real two-process run
(``accelerate launch``, per-device batch 3) see the same generation batches: the same
sampler seed, and rewards fixed by (prompt id, rollout index) (``trainer_helpers.keyed_reward``)
whatever was generated. With G = 2 and 3 rows per process, the middle prompt's rollouts
straddle the two processes, so per-process statistics would differ from the gathered ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from clinfair.trainers.advantage import FairAdvantageScaler
from conftest import run_on_two_cpu_processes
from trainer_helpers import NUM_GENERATIONS, fair_config

TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def one_process(tiny_vlm, data_dir, tmp_path_factory):
    from two_process_fairgrpo import run

    return run(tiny_vlm, data_dir, str(tmp_path_factory.mktemp("one-process")), per_device_batch=6)


def test_trainer_advantages_are_the_scalers_on_the_gathered_rewards(one_process):
    records = one_process.records
    assert len(records) == 2 and all(len(r["rewards"]) == 6 for r in records)
    scaler = FairAdvantageScaler(fair_config("unused", 6).fair_advantage_config())
    for record in records:
        by_hand = scaler(np.array(record["rewards"]), record["domains"], record["groups"], NUM_GENERATIONS)
        np.testing.assert_allclose(record["advantages"], by_hand, rtol=0, atol=1e-12)
        np.testing.assert_allclose(
            record["local_advantages"], by_hand, rtol=0, atol=1e-6
        )  # float32 in the batch
    assert any(abs(a) > 0.1 for r in records for a in r["advantages"])  # a batch with signal, not all zeros
    assert len({d for r in records for d in r["domains"]}) == 2
    # TRL's completions table shows the advantages that were used, not its own GRPO ones
    np.testing.assert_allclose(list(one_process._logs["advantages"]), records[-1]["advantages"])


@pytest.mark.slow
def test_two_processes_give_the_one_process_advantages(one_process, tiny_vlm, data_dir, tmp_path):
    script = TESTS / "two_process_fairgrpo.py"
    done = run_on_two_cpu_processes(str(script), tiny_vlm, data_dir, str(tmp_path), "3", cwd=TESTS)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"records_{rank}.json").read_text()) for rank in (0, 1)]

    for step, single in enumerate(one_process.records):
        first, second = ranks[0][step], ranks[1][step]
        for rank in (first, second):  # every process holds the same gathered batch and statistics
            assert rank["rewards"] == single["rewards"]
            assert rank["domains"] == single["domains"] and rank["groups"] == single["groups"]
            np.testing.assert_allclose(rank["advantages"], single["advantages"], rtol=0, atol=1e-12)
        # and each process trains on its own slice of them, in process order
        np.testing.assert_allclose(
            first["local_advantages"] + second["local_advantages"], single["advantages"], rtol=0, atol=1e-6
        )
        assert len(first["local_advantages"]) == 3
    # the fairness callback scored all 3 rows (split 2 + 1 over the processes) at steps 0, 1, 2
    lines = [json.loads(line) for line in (tmp_path / "fairness.jsonl").read_text().splitlines()]
    assert [(line["step"], line["rows"]) for line in lines] == [(0, 3), (1, 3), (2, 3)]
