"""The recipes that follow the authors' training scripts (trainers/recipes/<model>-<method>.yaml).

Expected values are transcribed from the scripts (DDVD233/mirl and DDVD233/qoq_med3
examples/fairness/*.sh): rollouts n, learning rate and KL coefficient; every recipe keeps
512 prompts per generation batch, mini-batches of 128 prompts, 15 epochs and their reward.
"""

from __future__ import annotations

import pytest
from clinfair.trainers.recipes import load_recipe, resolve_recipe_path

GPU_OFF = ["use_vllm=false", "bf16=false", "use_cpu=true"]
#: (model, method) -> (n, lr, beta) from the script the recipe follows (or names as closest)
SCRIPTS = {
    ("medgemma-4b-it", "grpo"): (5, 1e-6, 0.0),  # climb_medgemma_training_grpo.sh
    ("medgemma-4b-it", "rloo"): (10, 5e-7, 1e-4),  # climb_medgemma_training_repp.sh (adv_estimator=rloo)
    ("medgemma-4b-it", "reinforce_pp"): (10, 5e-7, 1e-4),  # the same 'repp' settings
    ("medgemma-4b-it", "resampling"): (5, 1e-6, 0.0),  # climb_medgemma_training_grpo_groupdro.sh
    ("medgemma-4b-it", "fairgrpo"): (10, 5e-7, 0.0),  # climb_medgemma_training_fair_grpo.sh
    ("medgemma-4b-it", "fairgrpo_nd"): (10, 5e-7, 0.0),  # climb_medgemma_training_fair_grpo_nd.sh
    ("qwen2.5-vl-7b-instruct", "grpo"): (5, 1e-6, 0.0),  # climb_vanilla_training_grpo.sh
    ("qwen2.5-vl-7b-instruct", "rloo"): (5, 1e-6, 0.0),  # no RLOO script: GRPO settings
    ("qwen2.5-vl-7b-instruct", "reinforce_pp"): (5, 1e-6, 0.0),  # no script: GRPO settings
    ("qwen2.5-vl-7b-instruct", "resampling"): (5, 1e-6, 0.0),  # climb_qwen_training_grpo_groupdro.sh
    ("qwen2.5-vl-7b-instruct", "fairgrpo"): (5, 1e-6, 0.0),  # climb_vanilla_training_fair_grpo.sh
    ("qwen2.5-vl-7b-instruct", "fairgrpo_nd"): (5, 1e-6, 0.0),  # no ND script: FairGRPO settings
}


@pytest.mark.parametrize(("model", "method"), sorted(SCRIPTS))
def test_authors_recipes_follow_their_scripts(model, method):
    recipe = load_recipe(f"{model}-{method}", method, GPU_OFF)
    c, n = recipe.config, SCRIPTS[(model, method)][0]
    assert (c.num_generations, c.learning_rate, c.beta) == SCRIPTS[(model, method)]
    assert c.generation_batch_size == 512 * n  # 512 prompts per batch
    assert (
        c.per_device_train_batch_size * 8 * c.gradient_accumulation_steps == 128 * n
    )  # mini-batch 128 on 8 GPUs
    assert (c.max_completion_length, c.temperature, c.epsilon, c.num_train_epochs) == (4096, 1.0, 0.2, 15)
    assert (c.lr_scheduler_type, c.weight_decay, c.max_grad_norm) == ("constant", 0.01, 1.0)
    assert recipe.arguments.rewards == ["authors"] and recipe.ignored == []
    if method.startswith("fairgrpo"):
        assert c.fair_mode == "reference"
    text = resolve_recipe_path(f"{model}-{method}").read_text()
    assert "Where it cannot (deviations):" in text and "# Script:" in text
