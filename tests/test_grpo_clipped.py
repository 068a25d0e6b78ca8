"""The throwaway clipped-GRPO method: its estimator by hand, and the simulator runs it by name."""

from __future__ import annotations

import numpy as np
from clinfair.trainers.simulate import METHODS, Training, group_shift, run_seeds


def test_clipped_grpo_by_hand_and_in_the_simulator():
    # prompt [1, 0, 0, 0]: mean .25, sample std .5 -> GRPO 1.5 (clipped to 1) and -.5 each
    estimator = METHODS["grpo_clipped"].estimator(Training(generations=4))
    got = estimator([1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(got, [1.0, -0.25 / (0.5 + 1e-4)] + [-0.25 / (0.5 + 1e-4)] * 2)
    assert len(run_seeds(group_shift(0.1), Training(steps=3), METHODS["grpo_clipped"], [0, 1])) == 2
