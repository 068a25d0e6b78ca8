"""Bad-input corpus: one line, never a traceback.

Operating-system errors (a full disk, a read-only or forbidden output folder, a closed pipe),
malformed command-line values (a recipe override or builder option that is not valid YAML,
an empty task list), a damaged or untrusted checkpoint file on resume, a chat template that
does not parse or fails, and a name matplotlib reads as math: each ends as one line on stderr
with exit code 2 (a closed pipe: quietly), see ``clinfair.cli.main`` and tests/bad_inputs.py.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import (
    assert_one_line_error,
    cases,
    closed_pipe_run,
    full_disk,
    read_only_file_system,
    read_only_folder,
    run_cli,
    without_loading_bar,
)

# -- operating-system errors ---------------------------------------------------------------------


def lm_eval_tasks_onto_a_full_disk(tmp_path, capsys, monkeypatch):
    with full_disk(tmp_path / "disk", monkeypatch) as disk:
        code, _, err = run_cli(capsys, "lm-eval-tasks", "--out", disk / "tasks")
    assert_one_line_error(code, err, "lm-eval-tasks", "no space left on the device", str(disk / "tasks"))


def prepare_onto_a_full_disk(tmp_path, capsys, monkeypatch):
    with full_disk(tmp_path / "disk", monkeypatch) as disk:
        code, _, err = run_cli(
            capsys, "prepare", "synthetic", "-o", "n=40", "--out", disk / "synthetic", "--no-progress"
        )
        left = sorted(p.name for p in disk.iterdir() if p.name != ".filler")
    assert_one_line_error(code, err, "prepare", "no space left on the device")
    assert left == []  # nothing half-written is left behind


def metrics_report_onto_a_full_disk(tmp_path, capsys, monkeypatch):
    from test_bad_inputs_outputs import predictions_file

    path = predictions_file(tmp_path / "run")
    with full_disk(tmp_path / "disk", monkeypatch) as disk:
        code, _, err = run_cli(capsys, "metrics", path, "--out", disk / "report.json", "--n-bootstrap", 0)
        left = sorted(p.name for p in disk.iterdir() if p.name != ".filler")
    assert_one_line_error(code, err, "metrics", "no space left on the device", "report.json")
    assert left == []


def lm_eval_tasks_onto_a_read_only_file_system(tmp_path, capsys, monkeypatch):
    with read_only_file_system(tmp_path / "ro", monkeypatch) as ro:
        code, _, err = run_cli(capsys, "lm-eval-tasks", "--out", ro / "tasks")
    assert_one_line_error(code, err, "lm-eval-tasks", "read-only", str(ro / "tasks"))


def lm_eval_tasks_into_a_forbidden_folder(tmp_path, capsys, monkeypatch):
    with read_only_folder(tmp_path / "locked") as locked:
        code, _, err = run_cli(capsys, "lm-eval-tasks", "--out", locked / "tasks")
    assert_one_line_error(
        code, err, "lm-eval-tasks", "choose a folder you can write to", str(locked / "tasks")
    )


@cases(
    lm_eval_tasks_onto_a_full_disk,
    prepare_onto_a_full_disk,
    metrics_report_onto_a_full_disk,
    lm_eval_tasks_onto_a_read_only_file_system,
    lm_eval_tasks_into_a_forbidden_folder,
)
def test_operating_system_errors_are_one_line(case, tmp_path, capsys, monkeypatch):
    case(tmp_path, capsys, monkeypatch)


@pytest.mark.parametrize(
    "argv",
    [("tasks", "list"), ("tasks", "list", "--json"), ("--help",), ("prepare", "--help")],
    ids=["tasks-list", "tasks-list-json", "help", "prepare-help"],
)
def test_a_closed_pipe_ends_quietly(argv):
    """``clinfair tasks list | head -0``: no traceback, no "Exception ignored", nothing on stderr."""
    code, err = closed_pipe_run(*argv)
    assert err == "", err
    assert code in (0, 141)


def test_os_error_messages_name_the_cause_and_the_file():
    import errno

    from clinfair.cli import os_error_message

    assert os_error_message(OSError(errno.ENOSPC, "No space left on device", "/x/r.json")) == (
        "cannot use /x/r.json: no space left on the device; free some space or choose another output folder"
    )
    assert "read-only" in os_error_message(OSError(errno.EROFS, "Read-only file system", "/x"))
    assert "permission denied" in os_error_message(PermissionError(errno.EACCES, "Permission denied", "/x"))
    assert (
        os_error_message(OSError(errno.EIO, "Input/output error", "/x"))
        == "cannot use /x: Input/output error"
    )


# -- malformed command-line values ----------------------------------------------------------------


def recipe_override_not_valid_yaml(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(capsys, "train", "--method", "grpo", "--recipe", "tiny-cpu", "max_steps=[1")
    assert_one_line_error(code, err, "train", "override 'max_steps'", "not a valid YAML value")


def nested_recipe_override_not_valid_yaml(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys, "train", "--method", "grpo", "--recipe", "tiny-cpu", "rewards={name: accuracy"
    )
    assert_one_line_error(code, err, "train", "override 'rewards'", "not a valid YAML value")


def builder_option_not_valid_yaml(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys, "prepare", "synthetic", "-o", "n={a", "--out", tmp_path / "out", "--no-progress"
    )
    assert_one_line_error(code, err, "prepare", "-o/--option 'n'", "not a valid YAML value")
    assert not (tmp_path / "out").exists()


def builder_option_with_a_tab(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys, "prepare", "synthetic", "-o", "k=\t- x", "--out", tmp_path / "out", "--no-progress"
    )
    assert_one_line_error(code, err, "prepare", "-o/--option 'k'", "not a valid YAML value")


def recipe_file_not_valid_yaml(tmp_path, capsys, monkeypatch):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("model: tiny\ntasks: [synthetic\nmax_steps: 2\n")
    code, _, err = run_cli(capsys, "train", "--method", "grpo", "--recipe", recipe)
    assert_one_line_error(code, err, "train", str(recipe), "not valid YAML", "line")


def eval_with_an_empty_task_list(tmp_path, capsys, monkeypatch):
    for tasks in ("", ",", " , "):
        code, _, err = run_cli(capsys, "eval", "--model", "m", "--tasks", tasks, "--out", tmp_path / "run")
        assert_one_line_error(code, err, "eval", "--tasks", "no task")
    assert not (tmp_path / "run").exists()


def probe_with_an_empty_task_list(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(capsys, "probe", "--model", "m", "--tasks", ",", "--out", tmp_path / "p")
    assert_one_line_error(code, err, "probe", "--tasks", "no task")


def recipe_with_an_empty_task_list(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys,
        "train",
        "--method",
        "grpo",
        "--recipe",
        "tiny-cpu",
        "tasks=[]",
        f"output_dir={tmp_path / 'o'}",
    )
    assert_one_line_error(code, err, "train", "tasks", "task list is empty")
    assert not (tmp_path / "o").exists()


@cases(
    recipe_override_not_valid_yaml,
    nested_recipe_override_not_valid_yaml,
    builder_option_not_valid_yaml,
    builder_option_with_a_tab,
    recipe_file_not_valid_yaml,
    eval_with_an_empty_task_list,
    probe_with_an_empty_task_list,
    recipe_with_an_empty_task_list,
)
def test_malformed_command_line_values_are_one_line(case, tmp_path, capsys, monkeypatch):
    case(tmp_path, capsys, monkeypatch)


# -- damaged or untrusted checkpoint files on resume ----------------------------------------------


class RunsCode:
    """Pickled, it asks the unpickler to call ``Path.touch`` on a marker file (it must never run)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def checkpoint(folder: Path) -> Path:
    """A checkpoint folder with the files ``transformers.Trainer`` reads on resume, all intact."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text('{"global_step": 1, "log_history": []}\n')
    torch.save({"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]}, folder / "optimizer.pt")
    torch.save({"last_epoch": 1}, folder / "scheduler.pt")
    torch.save(
        {"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.random.get_rng_state()},
        folder / "rng_state.pth",
    )
    save_file({"weight": torch.zeros(4, 4)}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text('{"model_type": "qwen2_5_vl"}\n')
    torch.save(
        RunsCode(folder / "never"), folder / "training_args.bin"
    )  # a full pickle the trainer never loads
    return folder


def resume(capsys, tmp_path, folder):
    return run_cli(
        capsys,
        "train",
        "--method",
        "grpo",
        "--recipe",
        "tiny-cpu",
        f"output_dir={tmp_path / 'out'}",
        f"data_dir={tmp_path / 'data'}",
        f"resume_from_checkpoint={folder}",
    )


def trainer_state_cut_off(tmp_path, capsys):
    folder = checkpoint(tmp_path / "checkpoint-1")
    (folder / "trainer_state.json").write_text('{"global_step": 1, "log_hist')
    code, _, err = resume(capsys, tmp_path, folder)
    assert_one_line_error(code, err, "train", "resume_from_checkpoint", "trainer_state.json", "damaged")


def optimizer_state_truncated(tmp_path, capsys):
    folder = checkpoint(tmp_path / "checkpoint-1")
    data = (folder / "optimizer.pt").read_bytes()
    (folder / "optimizer.pt").write_bytes(data[: len(data) // 2])
    code, _, err = resume(capsys, tmp_path, folder)
    assert_one_line_error(code, err, "train", "optimizer.pt", "damaged")


def rng_state_that_would_run_code(tmp_path, capsys):
    import torch

    folder = checkpoint(tmp_path / "checkpoint-1")
    marker = tmp_path / "code-ran"
    torch.save({"cpu": RunsCode(marker)}, folder / "rng_state.pth")
    code, _, err = resume(capsys, tmp_path, folder)
    assert_one_line_error(code, err, "train", "rng_state.pth", "run code")
    assert not marker.exists()


def weights_file_of_garbage(tmp_path, capsys):
    folder = checkpoint(tmp_path / "checkpoint-1")
    (folder / "model.safetensors").write_bytes(b"\xff" * 64)
    code, _, err = resume(capsys, tmp_path, folder)
    assert_one_line_error(code, err, "train", "model.safetensors", "damaged")


def scheduler_state_empty(tmp_path, capsys):
    folder = checkpoint(tmp_path / "checkpoint-1")
    (folder / "scheduler.pt").write_bytes(b"")
    code, _, err = resume(capsys, tmp_path, folder)
    assert_one_line_error(code, err, "train", "scheduler.pt", "damaged")


@cases(
    trainer_state_cut_off,
    optimizer_state_truncated,
    rng_state_that_would_run_code,
    weights_file_of_garbage,
    scheduler_state_empty,
)
def test_damaged_or_untrusted_checkpoint_is_one_line(case, tmp_path, capsys):
    case(tmp_path, capsys)


def test_an_intact_checkpoint_passes_the_check(tmp_path):
    from clinfair.trainers.checkpoint_files import check_checkpoint_files

    check_checkpoint_files(checkpoint(tmp_path / "checkpoint-1"))


# -- chat templates ---------------------------------------------------------------------------------

BROKEN_TEMPLATE = "{% for message in messages %}\n{{ message['content'] }\n{% endfor %}"


def eval_with_a_template_that_does_not_parse(tmp_path, capsys, tiny_vlm):
    (tmp_path / "t.jinja").write_text(BROKEN_TEMPLATE)
    argv = ["eval", "--model", tiny_vlm, "--tasks", "synthetic", "--out", tmp_path / "run"]
    code, _, err = run_cli(capsys, *argv, "--chat-template", tmp_path / "t.jinja", "--data", tmp_path / "d")
    assert_one_line_error(code, err, "eval", "--chat-template", "template syntax error at line 2")
    assert not (tmp_path / "run").exists()


def check_model_with_a_template_that_does_not_parse(tmp_path, capsys, tiny_vlm):
    (tmp_path / "t.jinja").write_text(BROKEN_TEMPLATE)
    code, _, err = run_cli(capsys, "check-model", tiny_vlm, "--chat-template", tmp_path / "t.jinja")
    assert_one_line_error(code, err, "check-model", "--chat-template", "template syntax error")


def eval_with_a_template_that_fails_on_the_conversation(tmp_path, capsys, tiny_vlm):
    (tmp_path / "t.jinja").write_text("{{ raise_exception('this template takes no images') }}")
    argv = ["eval", "--model", tiny_vlm, "--tasks", "synthetic", "--out", tmp_path / "run", "--limit", 2]
    code, _, err = run_cli(
        capsys, *argv, "--chat-template", tmp_path / "t.jinja", "--data", tmp_path / "d", "--no-progress"
    )
    assert_one_line_error(
        code, without_loading_bar(err), "eval", "chat template failed", "this template takes no images"
    )


def eval_with_a_template_file_that_is_not_text(tmp_path, capsys, tiny_vlm):
    (tmp_path / "t.jinja").write_bytes(b"\xff\xfe\x00{{")
    argv = ["eval", "--model", tiny_vlm, "--tasks", "synthetic", "--out", tmp_path / "run"]
    code, _, err = run_cli(capsys, *argv, "--chat-template", tmp_path / "t.jinja")
    assert_one_line_error(code, err, "eval", "--chat-template", "cannot read")


@cases(
    eval_with_a_template_that_does_not_parse,
    check_model_with_a_template_that_does_not_parse,
    eval_with_a_template_that_fails_on_the_conversation,
    eval_with_a_template_file_that_is_not_text,
)
def test_chat_template_errors_are_one_line(case, tmp_path, capsys, tiny_vlm):
    case(tmp_path, capsys, tiny_vlm)


# -- a name matplotlib reads as math ----------------------------------------------------------------


def test_mathtext_refusal_in_a_command_is_one_line(capsys, monkeypatch):
    """A command drawing a user's name that holds ``$...$`` (matplotlib parses it as math): the CLI's
    handler turns matplotlib's multi-line ValueError into one line (the page escapes names itself)."""
    import io

    import clinfair.commands.tasks as tasks_command

    def draw_a_name(args):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure = plt.figure()
        figure.suptitle("run $x^$ cost")
        try:
            figure.savefig(io.BytesIO(), format="png")
        finally:
            plt.close(figure)
        return 0

    monkeypatch.setattr(tasks_command, "run_list", draw_a_name)
    code, _, err = run_cli(capsys, "tasks", "list")
    assert_one_line_error(code, err, "tasks", "matplotlib cannot draw the text", "x^", "$")


def test_other_value_errors_keep_their_traceback(monkeypatch):
    """Only matplotlib's math-text refusal is a user error: any other ValueError is a bug."""
    import clinfair.commands.tasks as tasks_command
    from clinfair.cli import main

    def bug(args):
        raise ValueError("a bug")

    monkeypatch.setattr(tasks_command, "run_list", bug)
    with pytest.raises(ValueError, match="a bug"):
        main(["tasks", "list"])
