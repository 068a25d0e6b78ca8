"""``python -m clinfair.benchmark.lmeval ARGS``: lm-eval's command line with ``clinfair-hf-multimodal`` registered.

``lm_eval`` itself cannot know a model class defined outside lm-eval; this entry point
imports it first and then runs lm-eval's own CLI with the same arguments, e.g.::

    python -m clinfair.benchmark.lmeval run --model clinfair-hf-multimodal --model_args pretrained=PATH \\
        --include_path FOLDER --tasks clinfair_synthetic --apply_chat_template --batch_size 8
"""

import clinfair.benchmark.lmeval.model  # noqa: F401  (registers clinfair-hf-multimodal)
from lm_eval.__main__ import cli_evaluate

if __name__ == "__main__":
    cli_evaluate()
