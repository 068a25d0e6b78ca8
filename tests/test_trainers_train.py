"""A few GRPO steps of every method on the tiny VLM with images, and what each adapter changes."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from clinfair.benchmark.metrics import PAPER_KEYS
from clinfair.trainers.methods import METHODS
from conftest import train_args
from trainer_helpers import CPU, NUM_GENERATIONS, keyed_reward, load, recording, two_domain_dataset

from clinfair.cli import main

JSONL_FIELDS = {"step", "epoch", "method", "split", "rows", "invalid", "overall", "by_dataset", "groups"}


def grpo_by_hand(rewards, scale: bool) -> np.ndarray:
    """TRL's GRPO advantage, written out: (r - mean_p) [/ (sample std_p + 1e-4)]."""
    r = np.asarray(rewards, dtype=float).reshape(-1, NUM_GENERATIONS)
    centred = r - r.mean(axis=1, keepdims=True)
    return (centred / (r.std(axis=1, ddof=1, keepdims=True) + 1e-4) if scale else centred).ravel()


@pytest.mark.parametrize("method", METHODS)
def test_clinfair_train_runs_every_method(method, tiny_vlm, data_dir, tmp_path):
    out = tmp_path / "run"
    steps = ("max_steps=2", "train_limit=16", "eval_limit=4", "fairness_eval_steps=2")
    code = main(train_args(tiny_vlm, data_dir, out, *steps, method=method))
    assert code == 0
    assert (out / "model.safetensors").is_file() and (out / "processor_config.json").is_file()
    assert "method: " + method in (out / "recipe.yaml").read_text()
    lines = [json.loads(line) for line in (out / "fairness.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [0, 2]  # before training, then every 2 steps (= the end)
    for line in lines:
        assert set(line) - {"clustering"} == JSONL_FIELDS
        assert (line["method"], line["split"], line["rows"]) == (method, "validation", 4)
        assert set(line["overall"]) == set(PAPER_KEYS) and set(line["by_dataset"]) == {"synthetic"}
        assert set(line["groups"]["synthetic"]) == {"sex", "age_group"}
        assert set(line["groups"]["synthetic"]["age_group"]) == {"A1", "A2", "A3", "A4"}
        assert sum(g["rows"] for g in line["groups"]["synthetic"]["sex"].values()) <= 4
    # cluster diagnostics once FairGRPO_ND has clustered (the synthetic rows carry true groups: ARI/NMI)
    assert ("clustering" in lines[-1]) == (method == "fairgrpo_nd") and "clustering" not in lines[0]
    if method == "fairgrpo_nd":
        clusters = lines[-1]["clustering"]["synthetic"]
        assert clusters["k"] == len(clusters["sizes"]) == len(clusters["means"]) >= 1
        assert sum(clusters["sizes"]) == pytest.approx(clusters["vectors"])
        assert -1 <= clusters["ari"] <= 1 and 0 <= clusters["nmi"] <= 1


def test_train_command_user_errors(tiny_vlm, data_dir, tmp_path, capsys):
    common = [
        "train",
        "--method",
        "grpo",
        "--recipe",
        "tiny-cpu",
        f"data_dir={data_dir}",
        f"output_dir={tmp_path}",
    ]
    assert main([*common, f"model={tiny_vlm}", "lerning_rate=1e-5"]) == 2
    assert "unknown recipe key(s) 'lerning_rate' (did you mean 'learning_rate'?)" in capsys.readouterr().err
    assert main([*common, f"model={tmp_path}/missing"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*common, f"model={tiny_vlm}", "tasks=[nope]"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err


def test_dr_grpo_advantages_are_trls_unscaled_ones(tiny_vlm, data_dir, tmp_path):
    from clinfair.trainers.dr_grpo import DrGRPOConfig, DrGRPOTrainer
    from clinfair.trainers.grpo import GRPOConfig

    seen, used = [], []

    def reward(prompts, completions, **kwargs):
        seen.append(keyed_reward(prompts, completions, **kwargs))
        return seen[-1]

    class Capturing(DrGRPOTrainer):
        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            used.append(output["advantages"].tolist())
            return output

    model, processor = load(tiny_vlm)
    args = DrGRPOConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=6, **CPU)
    trainer = Capturing(
        model, [reward], args=args, train_dataset=two_domain_dataset(data_dir), processing_class=processor
    )
    assert (trainer.loss_type, trainer.scale_rewards) == ("dr_grpo", "none")
    trainer.train()
    for rewards, advantages in zip(seen, used):
        np.testing.assert_allclose(advantages, grpo_by_hand(rewards, scale=False), atol=1e-6)
    assert any(np.ptp(np.reshape(r, (-1, NUM_GENERATIONS)), axis=1).max() > 0 for r in seen)
    with pytest.raises(ValueError, match="dr_grpo"):
        DrGRPOTrainer(
            model,
            [reward],
            args=GRPOConfig(output_dir=str(tmp_path), **CPU),
            processing_class=processor,
            train_dataset=two_domain_dataset(data_dir),
        )


def test_dro_multiplies_grpo_advantages_by_group_weights(tiny_vlm, data_dir, tmp_path):
    from clinfair.trainers.callbacks import FairnessCallback
    from clinfair.trainers.data import load_task_split
    from clinfair.trainers.dro import DROConfig, DROTrainer

    eta = 0.5
    model, processor = load(tiny_vlm)
    args = DROConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=6, dro_eta=eta, **CPU)
    trainer = recording(DROTrainer)(
        model,
        [keyed_reward],
        args=args,
        train_dataset=two_domain_dataset(data_dir),
        processing_class=processor,
    )
    validation = {"synthetic": load_task_split("synthetic", data_dir, "validation", limit=3)}
    trainer.add_callback(FairnessCallback(trainer, validation, eval_steps=1, method="dro", max_new_tokens=4))
    trainer.train()

    first = trainer.records[0]  # the first update by hand: q_g ∝ exp(η (1 - r̄_g))
    rewards = np.array(first["rewards"])
    keys = [f"{d}/{g}" for d, g in zip(first["domains"], first["groups"])]
    mean = {k: rewards[[key == k for key in keys]].mean() for k in set(keys)}
    q = {k: np.exp(eta * (1 - m)) for k, m in mean.items()}
    q = {k: v / sum(q.values()) for k, v in q.items()}
    weights = np.array([q[k] for k in keys])
    np.testing.assert_allclose(
        first["advantages"], grpo_by_hand(rewards, True) * weights / weights.mean(), atol=1e-9
    )
    logged = [entry for entry in trainer.state.log_history if "dro/q/" + keys[0] in entry]
    assert logged, "the group weights are logged"

    # the fairness callback: one JSONL line per evaluation, scalars in the trainer's log history
    lines = [json.loads(line) for line in (tmp_path / "fairness.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [0, 1, 2]
    fairness_logs = [entry for entry in trainer.state.log_history if "fairness/overall/f1" in entry]
    assert len(fairness_logs) == 3
    assert (
        len([entry for entry in trainer.state.log_history if "loss" in entry]) == 2
    )  # the trainer's own logs
    assert any(key.startswith("fairness/synthetic/sex=") and key.endswith("/f1") for key in fairness_logs[0])


def test_missing_group_column_and_unscorable_rewards(tiny_vlm, data_dir, tmp_path):
    from clinfair.trainers.fairgrpo import FairGRPOConfig, FairGRPOTrainer

    def first_row_unscorable(prompts, completions, **kwargs):
        return [None, *keyed_reward(prompts, completions, **kwargs)[1:]]

    model, processor = load(tiny_vlm)
    args = FairGRPOConfig(output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=6, **CPU)
    dataset = two_domain_dataset(data_dir).remove_columns(["group"])
    trainer = FairGRPOTrainer(
        model, [first_row_unscorable], args=args, train_dataset=dataset, processing_class=processor
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()
    messages = " ".join(str(w.message) for w in caught)
    assert "no 'group' column" in messages and "None, NaN or infinite" in messages
    assert trainer.last_batch["groups"] == [None] * 6
    assert np.isnan(trainer.last_batch["rewards"][0])
    assert np.isfinite(trainer.last_batch["advantages"]).all() and trainer.last_batch["advantages"][0] == 0
    assert set(trainer.scaler.last_stats["domains"]["other"]["groups"]) == {"UNK"}


def test_fair_statistics_survive_a_checkpoint(tiny_vlm, data_dir, tmp_path):
    from clinfair.trainers.fairgrpo import FairGRPOConfig, FairGRPOTrainer
    from clinfair.trainers.gathered import STATE_FILE

    def trainer(max_steps):
        model, processor = load(tiny_vlm)
        args = FairGRPOConfig(
            **(
                CPU
                | dict(
                    output_dir=str(tmp_path),
                    max_steps=max_steps,
                    save_strategy="steps",
                    save_steps=1,
                    per_device_train_batch_size=4,
                )
            )
        )
        return FairGRPOTrainer(
            model,
            [keyed_reward],
            args=args,
            train_dataset=two_domain_dataset(data_dir),
            processing_class=processor,
        )

    first = trainer(1)
    first.train()
    assert (tmp_path / "checkpoint-1" / STATE_FILE).is_file()
    resumed = trainer(2)
    resumed.train(resume_from_checkpoint=str(tmp_path / "checkpoint-1"))
    assert resumed.scaler.step == 2  # restored after the first batch (a fresh scaler would be at 1)


def test_resampling_trainer_sampler_matches_trls_layout(tiny_vlm, data_dir, tmp_path):
    import trl
    from clinfair.trainers.advantage import resampling_weights
    from clinfair.trainers.resampling import GroupBalancedRepeatSampler, ResamplingConfig, ResamplingTrainer

    model, processor = load(tiny_vlm)
    args = ResamplingConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        steps_per_generation=3,
        num_iterations=2,
        **CPU,
    )
    dataset = two_domain_dataset(data_dir)
    trainer = ResamplingTrainer(
        model, [keyed_reward], args=args, train_dataset=dataset, processing_class=processor
    )
    ours, trls = trainer._get_train_sampler(), trl.GRPOTrainer._get_train_sampler(trainer)
    assert isinstance(ours, GroupBalancedRepeatSampler)
    for name in ("mini_repeat_count", "batch_size", "repeat_count", "num_samples"):
        assert getattr(ours, name) == getattr(trls, name), name
    assert len(ours) == len(trls)
    np.testing.assert_allclose(ours.weights.numpy(), resampling_weights(dataset["dataset"], dataset["group"]))
