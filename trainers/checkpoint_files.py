"""Check a checkpoint's files before a training run resumes from them.

``transformers.Trainer`` reads a checkpoint's files (``trainer_state.json``, the optimizer,
scheduler and RNG states, the weights) only once training has started, and a damaged file
(a run killed while writing it, a disk that filled up) or an untrusted one (a pickle that
would import code: refused by ``torch.load(weights_only=True)``) then ends in a traceback.
:func:`check_checkpoint_files` reads each of them the same safe way first, cheaply (tensors
memory-mapped, not read), and names the first bad file in one line.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

from clinfair.core.errors import ClinfairError, one_line

#: The files of a checkpoint that ``transformers.Trainer`` reads with ``torch.load(weights_only=True)``
#: on resume (``training_args.bin``, a full pickle, is never loaded back, so it is not checked).
TORCH_FILES = ("optimizer*.pt", "scheduler*.pt", "scaler*.pt", "rng_state*.pth", "pytorch_model*.bin")


class CheckpointFileError(ClinfairError):
    """A file of the checkpoint being resumed is damaged or unsafe; the message names it."""


def check_checkpoint_files(folder: str | Path, where: str = "resume_from_checkpoint") -> None:
    """Raise :class:`CheckpointFileError` (one line, naming ``where`` and the file) unless every
    JSON, torch and safetensors file of ``folder`` reads as the trainer will read it."""
    for path in sorted(Path(folder).iterdir()):
        if not path.is_file():
            continue
        problem = _problem(path)
        if problem:
            raise CheckpointFileError(
                f"{where}: {path} {problem}; resume from another checkpoint or start over"
            )


def _problem(path: Path) -> str | None:
    try:
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif any(fnmatch.fnmatch(path.name, pattern) for pattern in TORCH_FILES):
            return _torch_problem(path)
        elif path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                handle.keys()
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return f"is damaged ({one_line(error)})"
    except Exception as error:  # safetensors raises its own error type for a damaged header
        return f"is damaged ({type(error).__name__}: {one_line(error)})"
    return None


def _torch_problem(path: Path) -> str | None:
    import pickle

    import torch
    from transformers.trainer_pt_utils import safe_globals

    try:
        with safe_globals():
            torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as error:
        return f"is not a plain tensor file: loading it would run code, which clinfair refuses ({one_line(error)})"
    except Exception as error:  # torch raises RuntimeError, EOFError, ... for a cut-off or damaged file
        return f"is damaged ({type(error).__name__}: {one_line(error)})"
    return None
