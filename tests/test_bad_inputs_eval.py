"""Bad-input corpus of ``clinfair eval``: resume only onto the same data, survive a torn line and a
second interruption, re-score a finished run without its model, leave nothing after a failed
start, never delete results before new ones exist (see tests/bad_inputs.py)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import conftest
import pandas as pd
from bad_inputs import assert_one_line_error, cases, read_only_folder, run_cli, snapshot
from clinfair.benchmark.runner import PARTIAL_FILE

LIMIT, BATCH = 12, 4  # three batches


def eval_args(model, data, out, *extra):
    settings = ("--limit", LIMIT, "--batch-size", BATCH, "--max-new-tokens", 4, "--n-bootstrap", 20)
    return conftest.eval_args(model, data, out, *settings, "--no-progress", *extra)


def prepare_synthetic(capsys, data: Path, *options: str) -> None:
    argv = [
        "prepare",
        "synthetic",
        "-o",
        "n=200",
        *(x for o in options for x in ("-o", o)),
        "--out",
        data / "synthetic",
        "--overwrite",
        "--no-progress",
    ]
    assert run_cli(capsys, *argv)[0] == 0


def interrupt_after(monkeypatch, batches: int | None) -> None:
    """Make the next evaluations stop (as Ctrl-C does) after ``batches`` generated batches (None: never)."""
    import clinfair.benchmark.generation as generation

    real = getattr(generation.make_backend, "real", generation.make_backend)

    def make_backend(*args, **kwargs):
        backend = real(*args, **kwargs)
        generate, done = backend.generate, [0]

        def interrupted(
            *a, **k
        ):  # the first call is eval's preflight batch (clinfair.benchmark.checks.preflight)
            if batches is not None and done[0] >= batches + 1:
                raise KeyboardInterrupt
            done[0] += 1
            return generate(*a, **k)

        backend.generate = interrupted
        return backend

    make_backend.real = real
    monkeypatch.setattr(generation, "make_backend", make_backend)


def refuse_to_load_a_model(monkeypatch) -> None:
    import clinfair.benchmark.generation as generation

    def make_backend(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(generation, "make_backend", make_backend)


def assert_same_run(folder: Path, reference: Path) -> None:
    """The files of an interrupted-and-resumed run are those of an uninterrupted one."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in reference.iterdir())
    pd.testing.assert_frame_equal(
        pd.read_parquet(folder / "predictions.parquet"), pd.read_parquet(reference / "predictions.parquet")
    )
    for name in ("results.json", "run.json"):
        assert (folder / name).read_text() == (reference / name).read_text(), name


# -- resume checks identity, not just settings -------------------------------------------------


def reprepared_data_is_refused_on_resume(tiny_vlm, tmp_path, capsys, monkeypatch, caplog):
    data, out = tmp_path / "data", tmp_path / "run"
    prepare_synthetic(capsys, data)
    interrupt_after(monkeypatch, 1)
    assert run_cli(capsys, *eval_args(tiny_vlm, data, out))[0] == 130
    partial = (out / PARTIAL_FILE).read_bytes()
    assert partial.count(b"\n") == BATCH
    prepare_synthetic(capsys, data, "seed=1")  # other images and labels under the same ids
    interrupt_after(monkeypatch, None)
    code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, out))
    assert_one_line_error(code, err, "eval", "other synthetic data", "re-prepared", "--overwrite")
    assert (out / PARTIAL_FILE).read_bytes() == partial and not (out / "results.json").exists()
    # the same data prepared again is the same data: the run resumes
    prepare_synthetic(capsys, data)
    assert run_cli(capsys, *eval_args(tiny_vlm, data, out))[0] == 0
    assert run_cli(capsys, *eval_args(tiny_vlm, data, tmp_path / "straight"))[0] == 0
    assert_same_run(out, tmp_path / "straight")


def torn_last_line_then_a_second_interruption(tiny_vlm, tmp_path, capsys, monkeypatch, caplog):
    data, out = tmp_path / "data", tmp_path / "run"
    prepare_synthetic(capsys, data)
    interrupt_after(monkeypatch, 1)
    assert run_cli(capsys, *eval_args(tiny_vlm, data, out))[0] == 130
    with (out / PARTIAL_FILE).open("a") as partial:  # killed while writing the next line
        partial.write('{"id": "synthetic-0-00001')
    with caplog.at_level(logging.WARNING, logger="clinfair.benchmark.runner"):
        assert run_cli(capsys, *eval_args(tiny_vlm, data, out))[0] == 130  # a second interruption
    assert f"{PARTIAL_FILE}: line {BATCH + 1} is incomplete or damaged" in caplog.text
    lines = (out / PARTIAL_FILE).read_text().splitlines()
    assert len(lines) == 2 * BATCH and all(json.loads(line) for line in lines)
    interrupt_after(monkeypatch, None)
    assert run_cli(capsys, *eval_args(tiny_vlm, data, out))[0] == 0
    assert run_cli(capsys, *eval_args(tiny_vlm, data, tmp_path / "straight"))[0] == 0
    assert_same_run(out, tmp_path / "straight")


def finished_run_is_rescored_without_the_model(tiny_vlm, tmp_path, capsys, monkeypatch, caplog):
    data, out, model = tmp_path / "data", tmp_path / "run", tmp_path / "model"
    prepare_synthetic(capsys, data)
    shutil.copytree(tiny_vlm, model)
    assert run_cli(capsys, *eval_args(model, data, out))[0] == 0
    before = snapshot(out)
    shutil.rmtree(model)  # the checkpoint is gone: a re-run must not need it
    refuse_to_load_a_model(monkeypatch)
    code, printed, err = run_cli(capsys, *eval_args(model, data, out))
    assert code == 0, err
    assert "synthetic" in printed and snapshot(out) == before


# -- a failed start leaves nothing that blocks the corrected command ----------------------------------


def failed_start_does_not_block_the_corrected_command(tiny_vlm, tmp_path, capsys, monkeypatch, caplog):
    data, out = tmp_path / "data", tmp_path / "run"
    prepare_synthetic(capsys, data)
    code, _, err = run_cli(capsys, *eval_args(tmp_path / "mistyped", data, out))
    assert_one_line_error(code, err, "eval", "does not exist")
    assert not out.exists()
    out.mkdir()  # an existing, empty --out stays empty
    assert run_cli(capsys, *eval_args(tmp_path / "mistyped", data, out))[0] == 2
    assert list(out.iterdir()) == []
    code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, out))
    assert code == 0, err


def overwrite_keeps_the_results_until_new_answers_exist(tiny_vlm, tmp_path, capsys, monkeypatch, caplog):
    data, out = tmp_path / "data", tmp_path / "run"
    prepare_synthetic(capsys, data)
    assert run_cli(capsys, *eval_args(tiny_vlm, data, out))[0] == 0
    before = snapshot(out)
    code, _, err = run_cli(capsys, *eval_args(tmp_path / "mistyped", data, out, "--overwrite"))
    assert_one_line_error(code, err, "eval", "does not exist")
    assert snapshot(out) == before


def results_of_an_unknown_run_are_not_deleted(tiny_vlm, tmp_path, capsys, monkeypatch, caplog):
    data, out = tmp_path / "data", tmp_path / "run"
    prepare_synthetic(capsys, data)
    assert run_cli(capsys, *eval_args(tiny_vlm, data, out))[0] == 0
    (out / "run.json").unlink()
    before = snapshot(out)
    code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, out))
    assert_one_line_error(code, err, "eval", "without run.json", "--overwrite")
    assert snapshot(out) == before


def read_only_out(tiny_vlm, tmp_path, capsys, monkeypatch, caplog):
    data = tmp_path / "data"
    prepare_synthetic(capsys, data)
    with read_only_folder(tmp_path / "locked") as locked:
        code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, locked / "run"))
        assert_one_line_error(code, err, "eval", "cannot write to --out", str(locked / "run"))


@cases(
    reprepared_data_is_refused_on_resume,
    torn_last_line_then_a_second_interruption,
    finished_run_is_rescored_without_the_model,
    failed_start_does_not_block_the_corrected_command,
    overwrite_keeps_the_results_until_new_answers_exist,
    results_of_an_unknown_run_are_not_deleted,
    read_only_out,
)
def test_eval_bad_input(case, tiny_vlm, tmp_path, capsys, monkeypatch, caplog):
    case(tiny_vlm, tmp_path, capsys, monkeypatch, caplog)
