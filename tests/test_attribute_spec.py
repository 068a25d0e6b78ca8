"""The one attribute spec (``clinfair.tasks.attributes``): parsing, the default every command uses,
the checks, and that the metrics parse specs without loading the task registry."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
from clinfair.benchmark.metrics import MetricsInputError, standard_layer
from clinfair.tasks.attributes import (
    AttributeSpecError,
    UnknownAttributeError,
    default_attributes,
    parse_attributes,
    resolve_attributes,
    resolve_for_table,
)
from clinfair.tasks.registry import get_task, registered_tasks

from clinfair.cli import build_parser
from clinfair.core.errors import ClinfairError

ROOT = Path(__file__).resolve().parents[1]


def test_parse_normalises_and_keeps_each_once():
    assert parse_attributes(" sex, age_group,sex * age_group ,, sex") == ["sex", "age_group", "sex*age_group"]
    assert parse_attributes(["fitzpatrick", ("sex", "fitzpatrick")]) == ["fitzpatrick", "sex*fitzpatrick"]


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        ("sex**age_group", "--attributes: invalid attribute specification 'sex**age_group'"),
        ("sex*sex", "--attributes: invalid attribute specification 'sex*sex'"),
        (" , ", "--attributes names no attribute"),
    ],
)
def test_a_bad_spec_is_one_error_naming_the_flag(chosen, message):
    with pytest.raises(AttributeSpecError) as caught:
        parse_attributes(chosen)
    assert isinstance(caught.value, ClinfairError) and str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    with pytest.raises(AttributeSpecError, match="^--groups"):
        parse_attributes(chosen, "--groups")


def test_the_default_is_the_demographics_their_intersection_then_the_tasks_own():
    pad, synthetic = get_task("pad_ufes20"), get_task("synthetic")
    assert default_attributes() == ["sex", "age_group", "sex*age_group"]
    assert default_attributes([synthetic, pad]) == ["sex", "age_group", "sex*age_group", "fitzpatrick"]
    assert resolve_attributes(None, [pad]) == default_attributes([pad])
    assert resolve_attributes("fitzpatrick*sex", [pad]) == ["fitzpatrick*sex"]
    with pytest.raises(
        UnknownAttributeError, match="unknown attribute 'skin' in --attributes: pad_ufes20 has"
    ):
        resolve_attributes("sex*skin", [pad])


def test_a_table_default_keeps_what_the_table_has():
    table = pd.DataFrame({"dataset": ["pad_ufes20"], "sex": ["F"], "age_group": ["A1"], "answer": [["x"]]})
    chosen = resolve_for_table(
        None, specs=registered_tasks(["pad_ufes20"]), columns=list(table.columns), where="t"
    )
    assert chosen == ["sex", "age_group", "sex*age_group"]  # no fitzpatrick column: left out
    site = resolve_for_table(
        None,
        specs=registered_tasks(["own_task"]),
        columns=[*table.columns, "site"],
        recorded=["site"],
        where="t",
    )
    assert site == ["sex", "age_group", "sex*age_group", "site"]
    with pytest.raises(
        UnknownAttributeError, match="^t: unknown attribute 'site' in --attributes; the file has"
    ):
        resolve_for_table("sex*site", specs=[], columns=list(table.columns), where="t")


def test_every_command_defaults_to_the_one_spec():
    parser = build_parser()
    for command in ("eval", "metrics", "compare", "probe"):
        sub = parser._subparsers._group_actions[0].choices[command]
        (action,) = [a for a in sub._actions if "--attributes" in a.option_strings]
        assert action.default is None, command  # None: clinfair.tasks.attributes decides
        assert "sex*age_group and every attribute of the tasks" in action.help, command


def test_probe_default_is_what_it_can_state():
    from clinfair.commands.probe import probe_attributes

    assert probe_attributes(None, [get_task("pad_ufes20")]) == ["sex", "age_group"]
    assert probe_attributes("age_group", [get_task("pad_ufes20")]) == ["age_group"]


def test_the_metrics_library_reports_a_bad_spec_as_a_metrics_input_error():
    table = pd.DataFrame(
        {"dataset": ["d"] * 2, "answer": [["a"], ["b"]], "prediction": [["a"], None], "sex": ["F", "M"]}
    )
    with pytest.raises(MetricsInputError, match="invalid attribute specification 'sex\\*\\*x'"):
        standard_layer(table, attributes="sex**x", n_bootstrap=0)


def test_the_metrics_and_the_spec_import_no_task_registry():
    """The metrics stay pure: they parse specs through ``clinfair.tasks.attributes``, which imports
    nothing of the tasks but the schema at module level (``clinfair.tasks``' own ``__init__`` still
    loads the registry for its exports)."""
    imported = {}
    for path in [*(ROOT / "benchmark" / "metrics").glob("*.py"), ROOT / "tasks" / "attributes.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported[path.name] = {
            node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module
        }
    assert "clinfair.tasks.attributes" in imported["groups.py"]
    assert not [name for name, modules in imported.items() if "clinfair.tasks.registry" in modules]
    assert {m for m in imported["attributes.py"] if m.startswith("clinfair.tasks")} == {
        "clinfair.tasks.schema"
    }
