"""Flags from dataclasses (``clinfair.core.arguments``), and a command line that imports no torch or TRL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from clinfair.benchmark.generation import GenerationSettings
from clinfair.trainers.methods import METHODS

from clinfair.cli import build_parser
from clinfair.commands.eval import EvalArguments
from clinfair.commands.train import TrainArguments
from clinfair.core.arguments import add_dataclass_arguments, field_specs, from_namespace

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "trl", "transformers")


def _modules_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; what it prints last (JSON) is returned."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["eval", "--help"]])
def test_help_imports_no_torch_or_trl(argv):
    found = _modules_after(
        "import contextlib, io, json, sys\n"
        "from clinfair.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    try: main({argv!r})\n"
        "    except SystemExit: pass\n"
        f"print(json.dumps({{'help': out.getvalue(), 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))"
    )
    assert found["heavy"] == []
    if argv == ["train", "--help"]:
        for method in METHODS.values():  # each method, with its description, from the registry
            assert f"{method.name} " in found["help"] and method.description in found["help"]
        assert "tiny-cpu" in found["help"] and "fairness_eval_steps" in found["help"]


def test_import_trainers_is_light_and_exports_lazily():
    found = _modules_after(
        "import json, sys\n"
        "import clinfair.trainers, clinfair.trainers.advantage, clinfair.trainers.recipes, clinfair.trainers.methods\n"
        "light = [m for m in ('torch', 'trl') if m in sys.modules]\n"
        "from clinfair.trainers import FairGRPOConfig, FairGRPOTrainer\n"
        "from clinfair.trainers.fairgrpo import FairGRPOConfig as C, FairGRPOTrainer as T\n"
        "print(json.dumps({'light': light, 'same': FairGRPOConfig is C and FairGRPOTrainer is T}))"
    )
    assert found == {"light": [], "same": True}


def test_unknown_export_is_an_attribute_error():
    from clinfair import trainers

    with pytest.raises(AttributeError, match="NoSuchTrainer"):
        trainers.NoSuchTrainer  # noqa: B018


# -- flags from dataclass fields ------------------------------------------------------------------

EVAL_ARGV = [
    "--model",
    "m",
    "--out",
    "o",
    "--tasks",
    "a,b",
    "--scores",
    "none",
    "--chat-template",
    "t.jinja",
    "--limit",
    "3",
    "--trust-remote-code",
    "--no-progress",
    "--n-bootstrap",
    "5",
    "--temperature",
    "0.7",
    "--batch-size",
    "2",
]


@pytest.mark.parametrize("argv", [EVAL_ARGV, ["--model", "m", "--out", "o"]])
def test_eval_flags_parse_as_transformers_hfargumentparser_does(argv):
    """transformers' own parser, on the same dataclasses, is the oracle."""
    from transformers import HfArgumentParser

    expected = HfArgumentParser([EvalArguments, GenerationSettings]).parse_args_into_dataclasses(argv)
    namespace = build_parser().parse_args(["eval", *argv])
    assert (
        from_namespace(EvalArguments, namespace),
        from_namespace(GenerationSettings, namespace),
    ) == expected


def test_eval_flags_by_hand():
    namespace = build_parser().parse_args(["eval", *EVAL_ARGV])
    args = from_namespace(EvalArguments, namespace)
    assert (args.limit, args.n_bootstrap, args.progress, args.trust_remote_code) == (3, 5, False, True)
    assert args.chat_template == Path("t.jinja") and args.overwrite is False
    assert from_namespace(GenerationSettings, namespace) == GenerationSettings(temperature=0.7, batch_size=2)


def test_eval_data_defaults_to_clinfair_data(monkeypatch):
    monkeypatch.setenv("CLINFAIR_DATA", "/somewhere/prepared")
    namespace = build_parser().parse_args(["eval", "--model", "m", "--out", "o"])
    assert namespace.data == "/somewhere/prepared"
    monkeypatch.delenv("CLINFAIR_DATA")
    assert build_parser().parse_args(["eval", "--model", "m", "--out", "o"]).data == "data"


def test_train_flags_and_overrides():
    namespace = build_parser().parse_args(
        ["train", "--method", "rloo", "--recipe", "tiny-cpu", "max_steps=3"]
    )
    assert from_namespace(TrainArguments, namespace) == TrainArguments("rloo", "tiny-cpu")
    assert namespace.overrides == ["max_steps=3"]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--method", "no_such_method", "--recipe", "tiny-cpu"])


@dataclass
class _Example:
    """Every shape of field the helper reads."""

    name: str = field(metadata={"help": "required"})
    count: int = field(default=2, metadata={"help": "an int"})
    rate: float | None = field(default=None, metadata={"help": "an optional float"})
    mode: str = field(default="a", metadata={"help": "a choice", "choices": ("a", "b")})
    words: list[str] = field(default_factory=lambda: ["x"], metadata={"help": "a list"})
    on: bool = field(default=True, metadata={"help": "a switch that is on"})
    off: bool = field(default=False, metadata={"help": "a switch that is off"})


def test_helper_reads_every_field_shape():
    import argparse

    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, _Example)
    parsed = from_namespace(
        _Example,
        parser.parse_args(
            [
                "--name",
                "n",
                "--count",
                "3",
                "--rate",
                "0.5",
                "--mode",
                "b",
                "--words",
                "p",
                "q",
                "--no-on",
                "--off",
            ]
        ),
    )
    assert parsed == _Example("n", 3, 0.5, "b", ["p", "q"], False, True)
    assert from_namespace(_Example, parser.parse_args(["--name", "n"])) == _Example("n")
    for bad in (["--count", "3"], ["--name", "n", "--count", "x"], ["--name", "n", "--mode", "c"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_field_specs_check_recipe_values():
    specs = field_specs(_Example)
    assert specs["count"].problem(3) is None and specs["rate"].problem(None) is None
    assert specs["count"].problem(2.5) == "must be an integer"
    assert specs["count"].problem("3") == "must be a number"
    assert specs["count"].problem(True) == "must be a number"
    assert specs["rate"].problem(1) is None  # an int is a valid float
    assert specs["on"].problem("yes") == "must be true or false"
    assert specs["mode"].problem("c") == "must be one of a, b"
    assert specs["name"].problem(None) == "must not be null"
    assert specs["name"].required and not specs["count"].required


def test_a_list_flag_takes_several_values_and_repeats_and_keeps_its_default_when_absent():
    import argparse

    from clinfair.demo import DemoSettings

    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, EvalArguments)
    given = ["--model", "m", "--out", "o"]
    assert from_namespace(EvalArguments, parser.parse_args(given)).include_path == []
    repeated = [*given, "--include-path", "a", "--include-path", "c"]  # one folder per flag, as on prepare
    assert from_namespace(EvalArguments, parser.parse_args(repeated)).include_path == ["a", "c"]
    demo = argparse.ArgumentParser()
    add_dataclass_arguments(demo, DemoSettings)
    assert from_namespace(DemoSettings, demo.parse_args([])).methods == ("grpo", "resampling", "fairgrpo")
    assert list(from_namespace(DemoSettings, demo.parse_args(["--methods", "rloo"])).methods) == ["rloo"]
    several = demo.parse_args(["--methods", "grpo", "rloo", "--methods", "dro"])
    assert list(from_namespace(DemoSettings, several).methods) == ["grpo", "rloo", "dro"]
