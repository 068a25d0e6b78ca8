"""Bad-input corpus of a run's identity: ``results.json`` records every setting that changes the
numbers under ``settings``; a resume with any of them changed is refused naming the setting; a
second process writing the same ``--out`` is refused by the lock (see tests/bad_inputs.py)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

from bad_inputs import assert_one_line_error, cases, run_cli, snapshot, without_loading_bar
from clinfair.benchmark.runner import PARTIAL_FILE
from test_bad_inputs_eval import BATCH, eval_args, interrupt_after, prepare_synthetic

LOCK_FILE = ".clinfair.lock"  # the lock's documented name (README; clinfair.core.io.LOCK_FILE)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def template_file(tiny_vlm, path: Path, comment: str) -> Path:
    """The checkpoint's own chat template with a Jinja comment added: the same prompts, another text."""
    text = (Path(tiny_vlm) / "chat_template.jinja").read_text(encoding="utf-8")
    path.write_text("{#- " + comment + " -#}" + text, encoding="utf-8")
    return path


def interrupted_run(tiny_vlm, tmp_path, capsys, monkeypatch, *extra) -> tuple[Path, Path, bytes]:
    """An eval stopped after one batch (as Ctrl-C): (data, out, the partial file's bytes)."""
    data, out = tmp_path / "data", tmp_path / "run"
    prepare_synthetic(capsys, data)
    interrupt_after(monkeypatch, 1)
    assert run_cli(capsys, *eval_args(tiny_vlm, data, out, *extra))[0] == 130
    partial = (out / PARTIAL_FILE).read_bytes()
    assert partial.count(b"\n") == BATCH
    assert not (out / LOCK_FILE).exists()  # an interrupted run releases its lock
    interrupt_after(monkeypatch, None)
    return data, out, partial


# -- settings recorded --------------------------------------------------------------------------------


def test_results_json_records_every_setting_that_changes_the_numbers(tiny_vlm, tmp_path, capsys):
    data = tmp_path / "data"
    prepare_synthetic(capsys, data)
    template = template_file(tiny_vlm, tmp_path / "chat.jinja", "mine")
    out = tmp_path / "run"
    argv = eval_args(tiny_vlm, data, out, "--chat-template", template, "--max-images-per-prompt", 3)
    assert run_cli(capsys, *argv, "--temperature", 0.7, "--top-p", 0.9, "--scores", "none")[0] == 0
    results = json.loads((out / "results.json").read_text())
    settings = results["settings"]
    assert settings == {
        "model": str(tiny_vlm),
        "revision": None,
        "dtype": "float32",
        "backend": "hf",
        "max_new_tokens": 4,
        "temperature": 0.7,
        "top_p": 0.9,
        "do_sample": True,
        "seed": 0,
        "prompt_template_sha256": settings["prompt_template_sha256"],
        "chat_template_sha256": sha256(template.read_text(encoding="utf-8")),
        "chat_template_source": "--chat-template",
        "scores": "none",
        "max_images_per_prompt": 3,
        "split": "test",
        "limit": 12,
        "data_sha256": {"synthetic": results["tasks"]["synthetic"]["split_sha256"]},
    }
    assert len(settings["prompt_template_sha256"]) == 64
    # without --chat-template: the checkpoint's own template, by its content
    out = tmp_path / "own"
    assert run_cli(capsys, *eval_args(tiny_vlm, data, out))[0] == 0
    settings = json.loads((out / "results.json").read_text())["settings"]
    own = (Path(tiny_vlm) / "chat_template.jinja").read_text(encoding="utf-8")
    assert (settings["chat_template_sha256"], settings["chat_template_source"]) == (sha256(own), "checkpoint")
    assert (settings["do_sample"], settings["scores"], settings["max_images_per_prompt"]) == (
        False,
        "direct",
        4,
    )


def test_prompt_template_hash_follows_the_prompt_wording(monkeypatch):
    """The hash changes when the instruction around each question changes, and only then."""
    import clinfair.tasks.prompts as prompts
    from clinfair.benchmark.runner import prompt_template_sha256

    before = prompt_template_sha256()
    assert prompt_template_sha256() == before
    monkeypatch.setattr(prompts, "INSTRUCTION", prompts.INSTRUCTION + " Be brief.")
    assert prompt_template_sha256() != before


# -- a resume with other settings is refused, naming the setting ---------------------------------------


def resume_with_another_chat_template(tiny_vlm, tmp_path, capsys, monkeypatch):
    first = template_file(tiny_vlm, tmp_path / "a.jinja", "first")
    data, out, partial = interrupted_run(tiny_vlm, tmp_path, capsys, monkeypatch, "--chat-template", first)
    second = template_file(tiny_vlm, tmp_path / "b.jinja", "second")
    code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, out, "--chat-template", second))
    assert_one_line_error(code, err, "eval", "--chat-template", "--overwrite")
    assert (out / PARTIAL_FILE).read_bytes() == partial and not (out / "results.json").exists()
    # the same template again (another file, the same text) resumes
    (tmp_path / "copy.jinja").write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    assert (
        run_cli(capsys, *eval_args(tiny_vlm, data, out, "--chat-template", tmp_path / "copy.jinja"))[0] == 0
    )


def resume_without_the_chat_template_it_started_with(tiny_vlm, tmp_path, capsys, monkeypatch):
    first = template_file(tiny_vlm, tmp_path / "a.jinja", "first")
    data, out, partial = interrupted_run(tiny_vlm, tmp_path, capsys, monkeypatch, "--chat-template", first)
    code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, out))
    assert_one_line_error(code, err, "eval", "--chat-template")
    assert (out / PARTIAL_FILE).read_bytes() == partial


def resume_with_other_max_new_tokens(tiny_vlm, tmp_path, capsys, monkeypatch):
    data, out, partial = interrupted_run(tiny_vlm, tmp_path, capsys, monkeypatch)
    code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, out, "--max-new-tokens", 8))
    assert_one_line_error(code, err, "eval", "--max-new-tokens", "was 4, now 8")
    assert (out / PARTIAL_FILE).read_bytes() == partial


def resume_with_sampling(tiny_vlm, tmp_path, capsys, monkeypatch):
    data, out, partial = interrupted_run(tiny_vlm, tmp_path, capsys, monkeypatch)
    code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, out, "--temperature", 0.7))
    assert_one_line_error(code, err, "eval", "--temperature")
    assert (out / PARTIAL_FILE).read_bytes() == partial


def resume_with_another_image_limit(tiny_vlm, tmp_path, capsys, monkeypatch):
    data, out, partial = interrupted_run(tiny_vlm, tmp_path, capsys, monkeypatch)
    code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, out, "--max-images-per-prompt", 2))
    assert_one_line_error(code, err, "eval", "--max-images-per-prompt")
    assert (out / PARTIAL_FILE).read_bytes() == partial


def resume_with_another_scores_mode(tiny_vlm, tmp_path, capsys, monkeypatch):
    data, out, partial = interrupted_run(tiny_vlm, tmp_path, capsys, monkeypatch)
    code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, out, "--scores", "none"))
    assert_one_line_error(code, err, "eval", "--scores")
    assert (out / PARTIAL_FILE).read_bytes() == partial


def resume_after_the_checkpoints_own_template_changed(tiny_vlm, tmp_path, capsys, monkeypatch):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_vlm, model)
    data, out, partial = interrupted_run(model, tmp_path, capsys, monkeypatch)
    template_file(tiny_vlm, model / "chat_template.jinja", "edited in the checkpoint")
    code, _, err = run_cli(capsys, *eval_args(model, data, out))
    assert_one_line_error(code, without_loading_bar(err), "eval", "another chat template", "--overwrite")
    assert (out / PARTIAL_FILE).read_bytes() == partial


@cases(
    resume_with_another_chat_template,
    resume_without_the_chat_template_it_started_with,
    resume_with_other_max_new_tokens,
    resume_with_sampling,
    resume_with_another_image_limit,
    resume_with_another_scores_mode,
    resume_after_the_checkpoints_own_template_changed,
)
def test_resume_with_other_settings_is_refused(case, tiny_vlm, tmp_path, capsys, monkeypatch):
    case(tiny_vlm, tmp_path, capsys, monkeypatch)


# -- one writer per --out ------------------------------------------------------------------------------


HOLD_LOCK = (
    "import sys, time\n"
    "from clinfair.core.io import output_lock\n"
    "with output_lock(sys.argv[1]):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(120)\n"
)


def second_process_writing_the_same_out(tiny_vlm, tmp_path, capsys, monkeypatch):
    data, out = tmp_path / "data", tmp_path / "run"
    prepare_synthetic(capsys, data)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = snapshot(out)
        code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, out))
        assert_one_line_error(code, err, "eval", "another clinfair process", f"pid {holder.pid}")
        assert snapshot(out) == before
    finally:
        holder.kill()
        holder.wait()
    # its owner gone, the lock is stale: the run goes ahead and leaves no lock behind
    assert (out / LOCK_FILE).exists()
    code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, out))
    assert code == 0, err
    assert not (out / LOCK_FILE).exists() and (out / "results.json").is_file()


def lock_of_a_dead_process_is_ignored(tiny_vlm, tmp_path, capsys, monkeypatch):
    data, out = tmp_path / "data", tmp_path / "run"
    prepare_synthetic(capsys, data)
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    out.mkdir()
    (out / LOCK_FILE).write_text(finished.stdout)  # a run killed with kill -9 left its lock
    time.sleep(0.1)
    code, _, err = run_cli(capsys, *eval_args(tiny_vlm, data, out))
    assert code == 0, err
    assert not (out / LOCK_FILE).exists()


@cases(second_process_writing_the_same_out, lock_of_a_dead_process_is_ignored)
def test_one_writer_per_out(case, tiny_vlm, tmp_path, capsys, monkeypatch):
    case(tiny_vlm, tmp_path, capsys, monkeypatch)
