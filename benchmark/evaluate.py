"""Evaluate a checkpoint: load it, check it on each task's first rows, run :func:`clinfair.benchmark.runner.run_eval`.

The one library entry point behind ``clinfair eval``, the demo and the study: they differ only in
how they build the :class:`~clinfair.benchmark.runner.EvalRequest`, never in how a model is evaluated.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from clinfair.benchmark.bootstrap import N_BOOTSTRAP
from clinfair.benchmark.checks import preflight_tasks
from clinfair.benchmark.generation import SettingsError
from clinfair.benchmark.runner import EvalRequest, run_eval
from clinfair.tasks.registry import get_task

from clinfair.core.errors import ClinfairError


@dataclass(frozen=True)
class ModelLoading:
    """How the checkpoint is loaded. The chat template and the image limit change the numbers:
    :func:`evaluate` records them in the run's request (``chat_template_sha256``, ``max_images_per_prompt``)."""

    chat_template: str | None = None  # Jinja text replacing or supplying the checkpoint's template
    device: str | None = (
        None  # e.g. cpu, cuda:1; None: this process's GPU under accelerate, else transformers'
    )
    trust_remote_code: bool = False
    max_images_per_prompt: int = 4  # vLLM's per-prompt image limit
    tensor_parallel_size: int = 1  # vLLM: GPUs per model

    def __post_init__(self) -> None:
        for name in ("max_images_per_prompt", "tensor_parallel_size"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise SettingsError(f"{name} must be at least 1 (got {getattr(self, name)})")


def missing_prepared_data(tasks: list[str] | tuple[str, ...], data_dir: str | Path) -> str | None:
    """None when every task that needs a download has its prepared folder, else one message
    naming the ``clinfair prepare`` command for each missing one (all of them, at once)."""
    missing = [get_task(key) for key in tasks]
    missing = [spec for spec in missing if spec.needs_raw and not (Path(data_dir) / spec.key).exists()]
    if not missing:
        return None
    commands = "; ".join(spec.prepare_hint(Path(data_dir) / spec.key) for spec in missing)
    return f"no prepared data for {', '.join(spec.key for spec in missing)} in {data_dir}: run {commands}"


def evaluate(
    request: EvalRequest,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    loading: ModelLoading = ModelLoading(),
    n_bootstrap: int = N_BOOTSTRAP,
    overwrite: bool = False,
    progress: bool = True,
    attributes: str | Sequence[str] | None = None,
) -> dict[str, Any]:
    """Evaluate ``request.model`` on ``request.tasks`` and write ``results.json`` and
    ``predictions.parquet`` to ``out_dir``; returns the results. The model is loaded only when
    rows are left to generate, then checked on two rows of each task before the run starts.
    ``attributes``: the per-group attributes (see :func:`clinfair.benchmark.runner.run_eval`)."""
    from clinfair.benchmark.generation import make_backend
    from clinfair.benchmark.runner import text_sha256

    # what changes the numbers is part of the run: the chat template's text and the image limit
    request = replace(
        request,
        chat_template_sha256=text_sha256(loading.chat_template),
        max_images_per_prompt=loading.max_images_per_prompt,
    )
    message = missing_prepared_data(request.tasks, data_dir)
    if message:
        raise ClinfairError(message)

    def backend_factory():
        backend = make_backend(
            request.backend,
            request.model,
            request.generation,
            chat_template=loading.chat_template,
            dtype=request.dtype,
            device=loading.device or _process_device(),
            revision=request.revision,
            trust_remote_code=loading.trust_remote_code,
            max_images=loading.max_images_per_prompt,
            tensor_parallel_size=loading.tensor_parallel_size,
        )
        preflight_tasks(
            backend, request.tasks, data_dir, request.split, min(2, request.generation.batch_size)
        )
        return backend

    return run_eval(
        request,
        backend_factory,
        Path(data_dir),
        Path(out_dir),
        n_bootstrap=n_bootstrap,
        overwrite=overwrite,
        progress=progress,
        attributes=attributes,
    )


def _process_device() -> str | None:
    """Under ``accelerate launch`` on GPUs, this process's GPU; else transformers' choice."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch

        if torch.cuda.is_available():
            return f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
    return None
