"""``clinfair check-model``: will this checkpoint work with clinfair? (see ``clinfair.benchmark.checks``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from clinfair.core.arguments import add_dataclass_arguments
from clinfair.core.errors import ClinfairError, one_line


@dataclass(kw_only=True)
class CheckModelArguments:
    """The arguments of ``clinfair check-model``.

    Parameters:
        model (`str`):
            Local folder or Hub id of an image-text-to-text model; positional.
        images (`int`, *optional*, defaults to `2`):
            Images per row of the test batch.
        backend (`str`, *optional*, defaults to `"hf"`):
            ``hf`` (transformers) or ``vllm``.
        chat_template (`Path`, *optional*):
            A Jinja chat template file to use instead of the checkpoint's.
        dtype (`str`, *optional*, defaults to `"auto"`):
            Weights dtype: auto, float32, bfloat16, float16.
        revision (`str`, *optional*):
            Model revision (branch, tag or commit) on the Hub.
        trust_remote_code (`bool`, *optional*, defaults to `False`):
            Allow the checkpoint's own code.
    """

    model: str = field(
        metadata={"help": "local folder or Hub id of an image-text-to-text model", "positional": True}
    )
    images: int = field(default=2, metadata={"help": "images per row of the test batch (default: 2)"})
    backend: str = field(default="hf", metadata={"help": "generation backend", "choices": ["hf", "vllm"]})
    chat_template: Path | None = field(
        default=None, metadata={"help": "a Jinja chat template file to use instead of the checkpoint's"}
    )
    dtype: str = field(default="auto", metadata={"help": "auto, float32, bfloat16, float16"})
    revision: str | None = field(
        default=None, metadata={"help": "model revision (branch, tag or commit) on the Hub"}
    )
    trust_remote_code: bool = field(
        default=False, metadata={"help": "allow the checkpoint's own code (off by default)"}
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check-model",
        help="say whether a checkpoint will work (loads it and runs one 2-row batch with images)",
        description="Load the processor and model as clinfair eval and train do, run one batch of 2 rows with "
        "generated images, and say in a few lines whether the checkpoint works and, if not, why and what to do. "
        "Exit code 0 when it works, 2 when it does not.",
    )
    add_dataclass_arguments(parser, CheckModelArguments)
    parser.set_defaults(func=run)


def read_chat_template(path: Path | None) -> str | None:
    """The text of a ``--chat-template`` file; a missing or empty file is a clear error."""
    if path is None:
        return None
    if not path.is_file():
        raise ClinfairError(f"--chat-template {path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ClinfairError(f"--chat-template {path}: cannot read it: {one_line(error)}") from None
    if not text.strip():
        raise ClinfairError(f"--chat-template {path}: the file is empty")
    check_template_syntax(text, f"--chat-template {path}")
    return text


def check_template_syntax(text: str, where: str) -> None:
    """Raise a one-line :class:`ClinfairError` naming ``where`` and the line when a Jinja chat
    template does not parse (transformers compiles templates with the same sandboxed Jinja)."""
    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    try:
        environment.parse(text)
    except jinja2.TemplateSyntaxError as error:
        raise ClinfairError(
            f"{where}: template syntax error at line {error.lineno}: {one_line(error)}"
        ) from None


def run(args: argparse.Namespace) -> int:
    from clinfair.benchmark.locate import locate_model

    if args.images < 1:
        raise ClinfairError("--images must be at least 1")
    locate_model(args.model, revision=args.revision)  # the cause in one line, before torch is imported
    from clinfair.benchmark.checks import check_model

    check = check_model(
        args.model,
        images_per_row=args.images,
        backend=args.backend,
        chat_template=read_chat_template(args.chat_template),
        dtype=args.dtype,
        revision=args.revision,
        trust_remote_code=args.trust_remote_code,
    )
    print(check.render())
    return 0 if check.ok else 2
