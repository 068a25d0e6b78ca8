"""Sensible defaults and visible progress: the generation budget by task kind, the hint after a slow
first batch."""

from __future__ import annotations

import json

from clinfair.benchmark.generation import default_max_new_tokens, slow_start_hint
from conftest import eval_args

from clinfair.cli import build_parser, main


def test_budget_by_task_kind_is_the_largest_of_the_run():
    # the documented table (docs/evaluation.md, `clinfair eval --help`): binary/multiclass 128, multilabel 256
    assert default_max_new_tokens(["binary"]) == 128
    assert default_max_new_tokens(["multiclass", "binary"]) == 128
    assert default_max_new_tokens(["binary", "multilabel"]) == 256


def test_eval_help_states_the_default_and_an_explicit_value_wins():
    parser = build_parser()
    assert not hasattr(parser.parse_args(["eval", "--model", "m", "--out", "o"]), "max_new_tokens")
    assert (
        parser.parse_args(["eval", "--model", "m", "--out", "o", "--max-new-tokens", "1024"]).max_new_tokens
        == 1024
    )


def test_slow_start_hint_only_after_a_slow_batch():
    assert slow_start_hint(2.0, 8, 100, 128) is None
    assert slow_start_hint(30.0, 8, 0, 128) is None
    hint = slow_start_hint(30.0, 8, 96, 512)
    # 30 s per 8 rows -> 96 rows in 360 s = 6 min
    assert hint.startswith("the first batch of 8 rows took 30 s: about 6 min for the 96 rows left")
    assert slow_start_hint(12.0, 8, 8, 128).startswith("the first batch of 8 rows took 12 s: about 12 s for")
    assert "--max-new-tokens" in hint


def test_eval_records_the_default_budget_and_hints_after_a_slow_first_batch(
    tiny_vlm, eval_data, tmp_path, capsys, monkeypatch
):
    import clinfair.benchmark.generation as generation

    monkeypatch.setattr(generation, "SLOW_FIRST_BATCH_S", 0.0)  # every first batch counts as slow
    out = tmp_path / "run"
    argv = eval_args(
        tiny_vlm, eval_data, out, "--limit", 4, "--batch-size", 2, "--scores", "none", "--no-progress"
    )
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["request"]["generation"]["max_new_tokens"] == 128  # synthetic is binary
    hints = [line for line in capsys.readouterr().err.splitlines() if "first batch" in line]
    assert len(hints) == 1 and hints[0].startswith("clinfair eval: the first batch of 2 rows took")
    assert "for the 2 rows left at up to 128 new tokens" in hints[0]


def test_heartbeat_prints_while_a_step_runs_and_stops_after():
    import io
    import time

    from clinfair.core.progress import heartbeat

    stream = io.StringIO()
    with heartbeat("clinfair x", every=0.05, stream=stream):
        time.sleep(0.3)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2 and all(line.startswith("clinfair x: still working (") for line in lines)
    count = len(lines)
    time.sleep(0.15)
    assert len(stream.getvalue().splitlines()) == count  # nothing after the block


def test_simulate_shows_a_progress_bar(capsys):
    """A tiny study: the bar over its chunks goes to stderr, the report to stdout."""
    assert (
        main(
            [
                "simulate",
                "--seeds",
                "2",
                "--nd-seeds",
                "2",
                "--questions",
                "a",
                "--steps",
                "2",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "simulate: 100%" in captured.err
    assert "(a)" in captured.out
