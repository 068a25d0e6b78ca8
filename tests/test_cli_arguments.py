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


@dataclass(kw_only=True)
class _Positional:
    """Positional arguments, aliases, typed list items and an empty list default."""

    task: str = field(metadata={"help": "required positional", "positional": True})
    runs: list[Path] = field(default_factory=list, metadata={"help": "any number", "positional": True})
    option: list[str] = field(
        default_factory=list,
        metadata={"help": "one per flag", "action": "append", "nargs": None, "aliases": ("-o",)},
    )
    out: Path | None = field(default=None, metadata={"help": "a path"})


def test_helper_reads_positionals_aliases_and_item_types():
    import argparse

    parser = argparse.ArgumentParser()
    add_dataclass_arguments(parser, _Positional)
    namespace = parser.parse_args(["t", "a", "b", "-o", "x=1", "--option", "y=2", "--out", "o"])
    assert namespace.runs == [Path("a"), Path("b")] and namespace.option == ["x=1", "y=2"]
    assert from_namespace(_Positional, namespace) == _Positional(
        task="t", runs=[Path("a"), Path("b")], option=["x=1", "y=2"], out=Path("o")
    )
    bare = parser.parse_args(["t"])
    assert (bare.runs, bare.option, bare.out) == ([], [], None)  # an empty list default stays a list
    assert from_namespace(_Positional, bare) == _Positional(task="t")
    with pytest.raises(SystemExit):
        parser.parse_args([])  # the required positional


def _commands() -> dict:
    """Every leaf command of ``clinfair`` (``tasks list``, ``prepare``, ``leaderboard build`` ...) by name."""
    import argparse

    found = {}

    def walk(parser, prefix):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs and prefix:
            found[" ".join(prefix)] = parser
        for action in subs:
            for name, sub in action.choices.items():
                walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return found


def _argument_classes() -> dict[str, tuple[type, ...]]:
    from clinfair.commands.check_model import CheckModelArguments
    from clinfair.commands.compare import CompareArguments
    from clinfair.commands.leaderboard import (
        LeaderboardBuildArguments,
        LeaderboardPushArguments,
        LeaderboardServeArguments,
    )
    from clinfair.commands.lmeval import LmEvalTasksArguments
    from clinfair.commands.metrics import MetricsArguments
    from clinfair.commands.probe import ProbeArguments
    from clinfair.commands.simulate import SimulateArguments
    from clinfair.commands.tasks import PrepareArguments, TasksListArguments
    from clinfair.demo import DemoSettings
    from clinfair.study import StudyArguments

    return {
        "tasks list": (TasksListArguments,),
        "prepare": (PrepareArguments,),
        "metrics": (MetricsArguments,),
        "eval": (EvalArguments, GenerationSettings),
        "check-model": (CheckModelArguments,),
        "compare": (CompareArguments,),
        "probe": (ProbeArguments,),
        "train": (TrainArguments,),
        "leaderboard build": (LeaderboardBuildArguments,),
        "leaderboard push": (LeaderboardPushArguments,),
        "leaderboard serve": (LeaderboardServeArguments,),
        "demo": (DemoSettings,),
        "simulate": (SimulateArguments,),
        "study": (StudyArguments,),
        "lm-eval-tasks": (LmEvalTasksArguments,),
    }


def test_every_command_builds_its_flags_from_documented_dataclasses():
    """Each command's arguments are exactly its dataclasses' fields (train adds its KEY=VALUE
    overrides), and every field has a help text and an entry in its class docstring."""
    import dataclasses

    classes = _argument_classes()
    commands = _commands()
    assert sorted(commands) == sorted(classes)
    for name, parser in commands.items():
        dests = {action.dest for action in parser._actions if action.dest != "help"}
        fields = {f.name for cls in classes[name] for f in dataclasses.fields(cls)}
        assert dests == fields | ({"overrides"} if name == "train" else set()), name
        for cls in classes[name]:
            for spec in field_specs(cls).values():
                assert spec.help.strip(), f"{cls.__name__}.{spec.name} has no help"
                assert f"{spec.name} (`" in (cls.__doc__ or ""), (
                    f"{cls.__name__} does not document {spec.name}"
                )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["tasks", "list", "--json", "--include-path", "a", "--include-path", "b"],
            {"json": True, "include_path": ["a", "b"]},
        ),
        (
            [
                "prepare",
                "--include-path",
                "x",
                "synthetic",
                "--out",
                "o",
                "-o",
                "n=1",
                "--option",
                "m=2",
                "--no-progress",
            ],
            {
                "task": "synthetic",
                "include_path": ["x"],
                "option": ["n=1", "m=2"],
                "no_progress": True,
                "num_proc": 1,
            },
        ),
        (
            ["metrics", "p.parquet", "--out", "r.json", "--positive-label", "a=b"],
            {
                "predictions": Path("p.parquet"),
                "out": Path("r.json"),
                "positive_label": ["a=b"],
                "attributes": None,  # every command's default spec (clinfair.tasks.attributes)
            },
        ),
        (
            ["compare", "a", "b", "--baseline", "b"],
            {"runs": [Path("a"), Path("b")], "baseline": Path("b"), "out": None},
        ),
        (["leaderboard", "build", "--out", "o"], {"results": [], "dynamics": [], "seed": 0}),
        (["leaderboard", "push", "d", "--repo", "a/b", "--model-pr"], {"build_dir": "d", "model_pr": []}),
        (["leaderboard", "push", "d", "--repo", "a/b"], {"model_pr": None, "no_predictions": False}),
        (["study", "c.yaml", "--seeds", "3"], {"config": "c.yaml", "seeds": 3, "out": None, "methods": None}),
    ],
)
def test_command_lines_fill_their_dataclasses(argv, expected):
    """The parsed namespace, read back into the command's dataclass, holds the values given (and
    the defaults the flags had before they came from dataclasses)."""
    name = next(n for n in _argument_classes() if argv[: len(n.split())] == n.split())
    (cls,) = _argument_classes()[name]
    namespace = build_parser().parse_args(argv)
    arguments = from_namespace(cls, namespace)
    for key, value in expected.items():
        assert getattr(arguments, key) == value == getattr(namespace, key), key
