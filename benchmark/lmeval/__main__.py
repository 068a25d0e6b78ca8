"""``python -m benchmark.lmeval ARGS``: lm-eval's command line with ``clinfair-hf-multimodal`` registered.

``lm_eval`` itself cannot know a model class defined outside lm-eval; this entry point
imports it first and then runs lm-eval's own CLI with the same arguments, e.g.::

    python -m benchmark.lmeval run --model clinfair-hf-multimodal --model_args pretrained=PATH \\
        --include_path FOLDER --tasks clinfair_synthetic --apply_chat_template --batch_size 8
"""

from lm_eval.__main__ import cli_evaluate

import benchmark.lmeval.model  # noqa: F401  (registers clinfair-hf-multimodal)

if __name__ == "__main__":
    cli_evaluate()
