"""Run FairGRPO for two steps and dump the gathered batches (used by test_trainers_distributed).

Also scores a few validation rows at every step (``FairnessCallback``), so the callback's
collectives run under several processes too.

accelerate launch --num_processes 2 --cpu tests/two_process_fairgrpo.py MODEL DATA_DIR OUT_DIR PER_DEVICE
"""

from __future__ import annotations

import json
import sys

from trainer_helpers import fair_config, keyed_reward, load, recording, two_domain_dataset


def run(model_path: str, data_dir: str, out_dir: str, per_device_batch: int):
    """Two FairGRPO steps, scoring 3 validation rows before and after each (``fairness.jsonl``)."""
    from clinfair.trainers.callbacks import FairnessCallback
    from clinfair.trainers.data import load_task_split
    from clinfair.trainers.fairgrpo import FairGRPOTrainer

    model, processor = load(model_path)
    trainer = recording(FairGRPOTrainer)(
        model,
        [keyed_reward],
        args=fair_config(out_dir, per_device_batch),
        train_dataset=two_domain_dataset(data_dir),
        processing_class=processor,
    )
    validation = {"synthetic": load_task_split("synthetic", data_dir, "validation", limit=3)}
    trainer.add_callback(
        FairnessCallback(trainer, validation, eval_steps=1, method="fairgrpo", max_new_tokens=4)
    )
    trainer.train()
    return trainer


if __name__ == "__main__":
    model_path, data_dir, out_dir, per_device = sys.argv[1:5]
    trainer = run(model_path, data_dir, out_dir, int(per_device))
    with open(f"{out_dir}/records_{trainer.accelerator.process_index}.json", "w") as f:
        json.dump(trainer.records, f)
