"""clinfair's tasks inside lm-evaluation-harness (``pip install 'clinfair[lmeval]'``).

* :mod:`clinfair.benchmark.lmeval.harness` — what the task YAMLs call: the dataset loader, the
  prompt (``clinfair.tasks.prompts.build_prompt``, as ``clinfair eval``), the parser in
  ``process_results`` and the paper-protocol aggregations; and :func:`write_task_folder`,
  which writes the YAMLs (``clinfair lm-eval-tasks``).
* ``benchmark/lmeval/tasks/`` — that folder as shipped, reading prepared data from
  ``$CLINFAIR_DATA`` (or ``./data``) at run time: ``lm_eval --include_path`` it.
* :mod:`clinfair.benchmark.lmeval.model` — ``clinfair-hf-multimodal``, lm-eval's ``hf-multimodal``
  with clinfair's processor loading (for CPU hosts, where torchvision is missing).
* ``python -m clinfair.benchmark.lmeval ...`` — lm-eval's own command line with that model registered.

See docs/lm-eval.md for the command lines.
"""

from pathlib import Path

#: The task folder that ships with clinfair (data from ``$CLINFAIR_DATA`` or ``./data``).
TASK_FOLDER = Path(__file__).parent / "tasks"
