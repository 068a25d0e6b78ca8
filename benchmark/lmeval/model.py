"""``clinfair-hf-multimodal``: lm-eval's ``hf-multimodal`` with clinfair's processor loading.

Stock ``hf-multimodal`` loads the processor with ``AutoProcessor``. On a CPU-only host
torchvision is missing, and for Qwen2/2.5-VL checkpoints ``AutoProcessor`` then returns
a bare tokenizer (see :mod:`clinfair.benchmark.models`), so ``hf-multimodal`` fails with
``'...TokenizerFast' object has no attribute 'tokenizer'``. It also ignores a processor
object passed as ``tokenizer=`` (its ``_create_tokenizer`` returns it instead of storing
it). This subclass changes only that step: the processor comes from
``clinfair.benchmark.models.load_processor`` (``AutoProcessor`` where it works, the image-only
Qwen processor where it does not), or is the processor object passed as ``tokenizer``.
Model loading, batching, chat templating and generation are lm-eval's own.

Importing this module registers the model; ``python -m clinfair.benchmark.lmeval`` does that before
handing over to lm-eval's command line.
"""

from __future__ import annotations

from typing import Any

from clinfair.benchmark.generation import ensure_chat_template
from clinfair.benchmark.models import ModelLoadError, load_processor
from lm_eval.api.registry import register_model
from lm_eval.models.hf_vlms import HFMultimodalLM
from transformers import ProcessorMixin

MODEL_NAME = "clinfair-hf-multimodal"


@register_model(MODEL_NAME)
class ClinfairHFMultimodalLM(HFMultimodalLM):
    """``hf-multimodal`` whose processor is loaded by clinfair (see the module docstring)."""

    def _create_tokenizer(
        self,
        pretrained: Any,
        tokenizer: Any,
        revision: str | None = "main",
        trust_remote_code: bool | None = False,
        **_unused: Any,
    ) -> None:

        if isinstance(tokenizer, ProcessorMixin):
            self.processor = tokenizer
        else:
            source = tokenizer or (pretrained if isinstance(pretrained, str) else self.model.name_or_path)
            try:
                self.processor = load_processor(
                    source, trust_remote_code=bool(trust_remote_code), revision=revision
                )
            except ModelLoadError as error:
                raise ModelLoadError(
                    f"{MODEL_NAME} needs an image-text-to-text checkpoint with an image processor: {error}"
                ) from None
        ensure_chat_template(
            self.processor
        )  # the plain prompt, as clinfair eval, for checkpoints without one
        self.tokenizer = self.processor.tokenizer
