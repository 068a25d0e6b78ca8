"""RLOO and REINFORCE++ trainers on the tiny VLM: the advantages they use, against independent oracles.

* RLOO: TRL 1.16's own ``RLOOTrainer`` is run on the same model with random rewards, and its
  advantages (``normalize_advantages=False``, β = 0) are compared with ``rloo_advantages``.
* REINFORCE++: the whitening weights must be the true completion token counts; the reward
  function records them from TRL's ``completion_ids`` keyword, and the advantages are checked
  against the token-level whitening written out here.
"""

from __future__ import annotations

import numpy as np
import pytest
import trainer_helpers
from clinfair.trainers.advantage import rloo_advantages
from trainer_helpers import NUM_GENERATIONS, keyed_reward, load, recording, two_domain_dataset

CPU = trainer_helpers.CPU | dict(
    max_completion_length=6, max_steps=2, per_device_train_batch_size=6, temperature=1.0
)


def random_reward():
    rng = np.random.default_rng(0)
    seen: list[list[float]] = []

    def reward(prompts, completions, **kwargs):
        seen.append(rng.random(len(completions)).round(3).tolist())
        return seen[-1]

    return reward, seen


def test_rloo_advantages_equal_trls_rloo_trainer(tiny_vlm, data_dir, tmp_path):
    import trl

    reward, seen = random_reward()
    used = []

    class Capturing(trl.RLOOTrainer):
        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            used.append(output["advantages"].tolist())
            return output

    model, processor = load(tiny_vlm)
    args = trl.RLOOConfig(output_dir=str(tmp_path), beta=0.0, normalize_advantages=False, **CPU)
    trainer = Capturing(
        model, [reward], args=args, train_dataset=two_domain_dataset(data_dir), processing_class=processor
    )
    trainer.train()
    assert len(seen) == len(used) == 2
    for rewards, advantages in zip(seen, used):
        np.testing.assert_allclose(
            rloo_advantages(rewards, NUM_GENERATIONS), advantages, rtol=1e-5, atol=1e-6
        )


def test_rloo_trainer_uses_rloo_advantages(tiny_vlm, data_dir, tmp_path):
    from clinfair.trainers.rloo import RLOOConfig, RLOOTrainer

    model, processor = load(tiny_vlm)
    trainer = recording(RLOOTrainer)(
        model,
        [keyed_reward],
        args=RLOOConfig(output_dir=str(tmp_path), **CPU),
        train_dataset=two_domain_dataset(data_dir),
        processing_class=processor,
    )
    trainer.train()
    for record in trainer.records:
        r = np.reshape(record["rewards"], (-1, NUM_GENERATIONS))
        others = (r.sum(axis=1, keepdims=True) - r) / (NUM_GENERATIONS - 1)
        np.testing.assert_allclose(record["advantages"], (r - others).ravel(), atol=1e-12)
        np.testing.assert_allclose(record["local_advantages"], record["advantages"], atol=1e-6)  # one process
    assert any(np.ptp(rec["rewards"]) > 0 for rec in trainer.records)


@pytest.mark.parametrize("method", ["reinforce_pp", "reinforce_pp_baseline"])
def test_reinforce_pp_whitens_over_completion_tokens(method, tiny_vlm, data_dir, tmp_path):
    from clinfair.trainers.methods import get_method

    config_class, trainer_class = get_method(method).config_class(), get_method(method).trainer_class()
    lengths: list[list[int]] = []

    def reward(prompts, completions, completion_ids, **kwargs):
        lengths.append([len(ids) for ids in completion_ids])
        return keyed_reward(prompts, completions, **kwargs)

    model, processor = load(tiny_vlm)
    # a third of the vocabulary ends a completion, so completions differ in length and the weights matter
    model.generation_config.eos_token_id = list(range(3, model.config.text_config.vocab_size, 3))
    trainer = recording(trainer_class)(
        model,
        [reward],
        args=config_class(output_dir=str(tmp_path), **CPU),
        train_dataset=two_domain_dataset(data_dir),
        processing_class=processor,
    )
    trainer.train()
    assert len(trainer.records) == 2
    for record, n in zip(trainer.records, lengths):
        r = np.array(record["rewards"])
        if method == "reinforce_pp_baseline":
            r = r - np.repeat(r.reshape(-1, NUM_GENERATIONS).mean(axis=1), NUM_GENERATIONS)
        tokens = np.repeat(r, n)  # the value on every response token, as verl holds it
        expected = (r - tokens.mean()) / np.sqrt(tokens.var(ddof=1) + 1e-8)
        np.testing.assert_allclose(record["advantages"], expected, atol=1e-9)
    assert any(len(set(n)) > 1 for n in lengths), "completions of different lengths, so the weights matter"
