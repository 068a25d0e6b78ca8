"""`clinfair leaderboard build` never tells a story the predictions do not support (issues 23 and 25):
exact accuracy and invalid rate first, a silent run greyed and never best, runs evaluated with other
settings flagged, every number recomputed from predictions.parquet, unique run ids, and folders that
hold no run skipped with one line each. The runs are the real `clinfair eval` outputs of the fixture
`eval_results`, with predictions changed here and results.json rewritten as eval writes it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from bad_inputs import assert_one_line_error, run_cli

from clinfair.cli import main


def build(capsys, *args) -> tuple[int, str, str]:
    return run_cli(capsys, "leaderboard", "build", *args, "--n-bootstrap", 20)


def edit_results(folder: Path, change: Callable[[dict], None]) -> None:
    path = folder / "results.json"
    results = json.loads(path.read_text())
    change(results)
    path.write_text(json.dumps(results))


def make_run(source: str, target: Path, name: str, predict: Callable[[pd.DataFrame], list]) -> Path:
    """A copy of an eval output whose predictions are ``predict(frame)``, with valid / correct and
    results.json (metrics and counts) rewritten the way `clinfair eval` writes them."""
    from clinfair.benchmark.metrics import build_report

    shutil.copytree(source, target)
    frame = pd.read_parquet(target / "predictions.parquet")
    frame["prediction"] = predict(frame)
    frame["valid"] = [p is not None for p in frame["prediction"]]
    frame["correct"] = [
        p is not None and set(p) == set(a) for p, a in zip(frame["prediction"], frame["answer"])
    ]
    frame.to_parquet(target / "predictions.parquet", index=False)
    results = json.loads((target / "results.json").read_text())
    settings = results["metrics"]["settings"]
    results["metrics"] = build_report(
        frame,
        label_spaces={task: info["label_space"] for task, info in results["tasks"].items()},
        attributes=settings["attributes"],
        n_bootstrap=settings["n_bootstrap"],
        seed=settings["seed"],
        min_group_size=settings["min_group_size"],
        ci_level=settings["ci_level"],
    )
    for task, info in results["tasks"].items():
        rows = frame[frame["dataset"] == task]
        info.update(
            invalid_answers=int((~rows["valid"]).sum()),
            invalid_rate=float((~rows["valid"]).mean()),
            accuracy_exact=float(rows["correct"].mean()),
        )
    results["run"]["name"] = name
    (target / "results.json").write_text(json.dumps(results))
    return target


def silent(frame: pd.DataFrame) -> list:
    return [None] * len(frame)


def perfect(frame: pd.DataFrame) -> list:
    return [list(answer) for answer in frame["answer"]]


def three_wrong(frame: pd.DataFrame) -> list:
    """The answer, except on the first three rows: the other label of the binary task."""
    return [
        [next(c for c in choices if c not in answer)] if i < 3 else list(answer)
        for i, (choices, answer) in enumerate(zip(frame["choices"], frame["answer"]))
    ]


def table_rows(text: str, section: str = "overall") -> dict[str, list[str]]:
    """The Markdown table of one section: run name -> its cells (name and method included)."""
    block = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return {
        line.split("|")[1].strip(): [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in block.splitlines()
        if line.startswith("| ") and not line.startswith("| Run |")
    }


# --------------------------------------------------------------------------------------
# A run that never answers (23.1)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def silent_board(eval_results, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("silent")
    folders = [
        make_run(eval_results[0], root / "silent", "silent", silent),
        make_run(eval_results[0], root / "perfect", "perfect", perfect),
        make_run(eval_results[0], root / "three-wrong", "three-wrong", three_wrong),
    ]
    out = root / "board"
    assert main(["leaderboard", "build", *map(str, folders), "--out", str(out), "--n-bootstrap", "20"]) == 0
    return out


def test_a_silent_run_reads_as_zero_exact_accuracy_first_and_is_never_best(silent_board):
    paper = (silent_board / "paper_table.md").read_text()
    header = next(line for line in paper.splitlines() if line.startswith("| Run |"))
    assert header.startswith("| Run | Method | Exact acc ↑ | Invalid ↓ | Acc (paper) ↑ |")
    rows = table_rows(paper)
    cells = rows["silent"][2:]
    assert cells[0] == "0.000 †" and cells[1] == "1.000 †"  # exact accuracy 0, every answer invalid
    # the paper's one-vs-rest accuracy is far from 0 for a model that never answers: under its own label
    assert float(cells[2].removesuffix(" †")) > 0.3 and cells[2].endswith(" †")
    assert all(cell.endswith("†") for cell in cells) and not any("**" in cell for cell in cells)
    assert "† silent is not ranked on any column: 100% invalid answers (more than 10%)." in paper
    # the ranked runs compete among themselves: the perfect run is best on accuracy
    n = json.loads((silent_board / "runs" / "perfect" / "results.json").read_text())["tasks"]["synthetic"][
        "rows"
    ]
    assert rows["perfect"][2] == "**1.000**" and rows["three-wrong"][2] == f"{1 - 3 / n:.3f}"
    assert rows["perfect"][3] == "**0.000**" and not any("†" in cell for cell in rows["perfect"])
    with_ci = table_rows((silent_board / "leaderboard.md").read_text())
    assert with_ci["silent"][2].startswith("0.000 [0.000, 0.000]") and with_ci["silent"][2].endswith("†")
    assert with_ci["silent"][3].startswith("1.000 [1.000, 1.000]")


def test_the_table_the_page_reads_starts_with_exact_accuracy_and_invalid_rate(silent_board):
    board = pd.read_parquet(silent_board / "leaderboard.parquet").set_index("run")
    values = [c for c in board.columns if c.startswith("overall.") and not c.endswith(("ci_low", "ci_high"))]
    assert values[:3] == ["overall.exact_match", "overall.invalid", "overall.accuracy"]
    assert board.loc["silent", "overall.exact_match"] == 0.0 and board.loc["silent", "overall.invalid"] == 1.0
    assert board.loc["silent", "synthetic.exact_match"] == 0.0
    n = board.loc["three-wrong", "rows"]
    assert board.loc["three-wrong", "overall.exact_match"] == pytest.approx(1 - 3 / n)
    assert board.loc["silent", "unranked"].startswith("100% invalid answers")
    assert pd.isna(board.loc["perfect", "unranked"])
    manifest = json.loads((silent_board / "manifest.json").read_text())
    assert [m["key"] for m in manifest["metrics"]][:3] == ["exact_match", "invalid", "accuracy"]
    page = (silent_board / "index.html").read_text()
    assert page.count('class="unranked"') >= 2  # the silent run's exact accuracy and invalid rate cells
    assert "100% invalid answers in this group (more than 10%)" in page  # its per-group cells, marked
    groups = pd.read_parquet(silent_board / "groups.parquet")
    empty = groups["rows"] == 0  # a schema group without rows has no rate and is not marked
    assert groups.loc[empty, "invalid_rate"].isna().all() and groups.loc[empty, "invalid_note"].isna().all()
    mine = groups[(groups["run"] == "silent") & ~empty]
    assert len(mine) and (mine["invalid_rate"] == 1.0).all()
    assert mine["invalid_note"].str.startswith("100% invalid answers in this group").all()
    others = groups[(groups["run"] != "silent") & ~empty]
    assert (others["invalid_rate"] == 0.0).all() and others["invalid_note"].isna().all()


# --------------------------------------------------------------------------------------
# Settings that change the numbers (23.3)
# --------------------------------------------------------------------------------------


def test_runs_with_other_max_new_tokens_are_refused_then_flagged_and_not_ranked(
    eval_results, tmp_path, capsys
):
    longer = tmp_path / "longer"
    shutil.copytree(eval_results[1], longer)

    def longer_answers(results: dict) -> None:  # as `clinfair eval --max-new-tokens 64` records it
        results["request"]["generation"].update(max_new_tokens=64)
        if "settings" in results:  # the settings block clinfair eval records (older results lack it)
            results["settings"].update(max_new_tokens=64)

    edit_results(longer, longer_answers)
    code, _, err = build(capsys, eval_results[0], longer, "--out", tmp_path / "board")
    assert_one_line_error(
        code, err, "leaderboard", "max_new_tokens: 4 (tiny-grpo); 64 (tiny-fairgrpo)", "--allow-mixed"
    )
    assert not (tmp_path / "board").exists()
    code, _, err = build(capsys, eval_results[0], longer, "--out", tmp_path / "board", "--allow-mixed")
    assert code == 0, err
    assert "max_new_tokens: 4 (tiny-grpo); 64 (tiny-fairgrpo)" in err
    board = pd.read_parquet(tmp_path / "board" / "leaderboard.parquet").set_index("run")
    assert board.loc["tiny-fairgrpo", "flags"] == "max_new_tokens differs (64)"
    assert (
        "not evaluated like the other runs (max_new_tokens differs (64))"
        in board.loc["tiny-fairgrpo", "unranked"]
    )
    assert "max_new_tokens=64" in board.loc["tiny-fairgrpo", "settings"]
    assert "max_new_tokens=4" in board.loc["tiny-grpo", "settings"]
    for name in ("paper_table.md", "leaderboard.md"):
        text = (tmp_path / "board" / name).read_text()
        cells = table_rows(text)["tiny-fairgrpo ⚠"]
        assert all(cell.endswith("†") for cell in cells[2:])
        assert "⚠ tiny-fairgrpo: max_new_tokens differs (64)" in text
    assert (
        "| tiny-fairgrpo ⚠ |" in (tmp_path / "board" / "leaderboard.md").read_text().split("## Settings")[1]
    )
    manifest = json.loads((tmp_path / "board" / "manifest.json").read_text())
    settings = {run["run"]: run["settings"] for run in manifest["runs"]}
    assert settings["tiny-grpo"]["max_new_tokens"] == 4 and settings["tiny-fairgrpo"]["max_new_tokens"] == 64


def test_settings_compared_are_the_evaluators_not_the_checkpoints(eval_results, tmp_path, capsys):
    """A results.json settings block: clinfair's prompt template is compared; the chat template and
    dtype come with the checkpoint (shown, not compared), and so does the model; results without
    the block are read from their request."""
    runs = [tmp_path / "a", tmp_path / "b"]
    for source, folder, model in zip(eval_results, runs, ("m-a", "m-b")):
        shutil.copytree(source, folder)
        block = {"model": model, "backend": "hf", "max_new_tokens": 4, "temperature": 0.0, "do_sample": False}
        block |= {"top_p": 1.0, "seed": 0, "prompt_template_sha256": "p" * 64, "scores": "direct"}
        block |= {"chat_template_sha256": "c" * 64, "dtype": "float32", "data_sha256": {"synthetic": "d"}}
        edit_results(folder, lambda r, b=block: r.update(settings=b))
    edit_results(runs[1], lambda r: r["settings"].update(prompt_template_sha256="q" * 64))
    code, _, err = build(capsys, *runs, "--out", tmp_path / "board")
    assert_one_line_error(
        code, err, "leaderboard", f"prompt_template_sha256: {'p' * 64} (tiny-grpo); {'q' * 64}"
    )
    changes = {
        "prompt_template_sha256": "p" * 64,
        "chat_template_sha256": "e" * 64,
        "dtype": "bfloat16",
        "seed": 7,
    }
    edit_results(runs[1], lambda r: r["settings"].update(changes))  # greedy: the seed is not read
    code, _, err = build(capsys, *runs, "--out", tmp_path / "board")
    assert code == 0, err
    board = pd.read_parquet(tmp_path / "board" / "leaderboard.parquet").set_index("run")
    assert f"chat_template_sha256={'e' * 64}" in board.loc["tiny-fairgrpo", "settings"]
    assert "model=" not in board.loc["tiny-fairgrpo", "settings"]  # the run's identity has its own column
    assert board["flags"].tolist() == ["", ""] and board["settings"].str.contains("max_new_tokens=4").all()
    edit_results(runs[1], lambda r: r["settings"].update(do_sample=True, temperature=0.7))
    code, _, err = build(capsys, *runs, "--out", tmp_path / "board")
    assert_one_line_error(
        code, err, "leaderboard", "do_sample: False (tiny-grpo); True (tiny-fairgrpo)", "seed: "
    )
    # results.json without a settings block (an older clinfair): the request's generation settings
    for folder, tokens in zip(runs, (4, 16)):

        def older(results: dict, tokens=tokens) -> None:
            del results["settings"]
            results["request"]["generation"].update(max_new_tokens=tokens)

        edit_results(folder, older)
    code, _, err = build(capsys, *runs, "--out", tmp_path / "board")
    assert_one_line_error(code, err, "leaderboard", "max_new_tokens: 4 (tiny-grpo); 16 (tiny-fairgrpo)")


# --------------------------------------------------------------------------------------
# Every number recomputed from predictions.parquet (25.2)
# --------------------------------------------------------------------------------------


def test_a_hand_edited_auroc_is_refused(eval_results, tmp_path, capsys):
    edited = tmp_path / "edited"
    shutil.copytree(eval_results[1], edited)
    original = json.loads((edited / "results.json").read_text())
    auroc = original["metrics"]["scores"]["by_dataset"]["synthetic"]["overall"]["metrics"]["auroc"]["value"]
    assert auroc is not None and abs(auroc - 0.99) > 0.01
    edit_results(
        edited,
        lambda r: r["metrics"]["scores"]["by_dataset"]["synthetic"]["overall"]["metrics"]["auroc"].update(
            value=0.99
        ),
    )
    code, _, err = build(capsys, eval_results[0], edited, "--out", tmp_path / "board")
    assert_one_line_error(
        code,
        err,
        "leaderboard",
        str(edited),
        "metrics.scores.by_dataset.synthetic.overall.metrics.auroc.value = 0.99",
        f"predictions.parquet gives {auroc!r}",
    )
    assert not (tmp_path / "board").exists()


def test_valid_and_correct_columns_are_recomputed_never_trusted(eval_results, tmp_path, capsys):
    lying = make_run(eval_results[0], tmp_path / "lying", "lying", silent)
    frame = pd.read_parquet(lying / "predictions.parquet")
    assert frame["prediction"].isna().all()
    frame["valid"], frame["correct"] = True, True  # what the file claims, against its own predictions
    frame.to_parquet(lying / "predictions.parquet", index=False)
    other = make_run(eval_results[0], tmp_path / "other", "other", perfect)
    code, _, err = build(capsys, lying, other, "--out", tmp_path / "board")
    assert code == 0, err
    board = pd.read_parquet(tmp_path / "board" / "leaderboard.parquet").set_index("run")
    assert board.loc["lying", "invalid_rate"] == 1.0 and board.loc["lying", "exact_accuracy"] == 0.0
    assert board.loc["lying", "overall.invalid"] == 1.0 and board.loc["lying", "overall.exact_match"] == 0.0
    assert board.loc["lying", "invalid"] == board.loc["lying", "rows"]
    assert board.loc["lying", "unranked"].startswith("100% invalid answers")
    published = pd.read_parquet(tmp_path / "board" / "predictions.parquet")
    assert not published.loc[published["run"] == "lying", ["valid", "correct"]].any().any()
    # results.json edited to agree with the lying columns: the counts disagree with the predictions
    edit_results(
        lying,
        lambda r: r["tasks"]["synthetic"].update(invalid_answers=0, accuracy_exact=1.0, invalid_rate=0.0),
    )
    code, _, err = build(capsys, lying, other, "--out", tmp_path / "board2")
    assert_one_line_error(code, err, "leaderboard", "results.json says tasks.synthetic.invalid_answers = 0")


# --------------------------------------------------------------------------------------
# Unique ids (25.4) and folders without a run (23.4)
# --------------------------------------------------------------------------------------


def test_unique_slugs():
    from clinfair.leaderboard.runs import unique_slugs

    assert unique_slugs(["x y", "x-y", "x-y-2"]) == ["x-y-3", "x-y", "x-y-2"]
    assert unique_slugs(["x-y-2", "x y", "x-y"]) == ["x-y-2", "x-y-3", "x-y"]
    assert unique_slugs(["X", "x", "a/b", "a b"]) == ["X", "x-2", "a-b", "a-b-2"]
    assert unique_slugs(["", "..."]) == ["run", "run-2"]


def test_runs_whose_names_slug_alike_keep_every_file(eval_results, tmp_path, capsys):
    folders = []
    for index, name in enumerate(("x y", "x-y", "x-y-2")):
        folder = tmp_path / f"run{index}"
        shutil.copytree(eval_results[index % 2], folder)
        edit_results(folder, lambda r, n=name: r["run"].update(name=n))
        step = json.dumps({"step": 0, "method": "grpo", "overall": {"f1": 0.1 * (index + 1), "f1_gap": 0.05}})
        (folder / "fairness.jsonl").write_text(step + "\n")
        folders.append(folder)
    out = tmp_path / "board"
    code, _, err = build(capsys, *folders, "--out", out)
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    ids = {run["run"]: run["run_id"] for run in manifest["runs"]}
    assert ids == {"x y": "x-y-3", "x-y": "x-y", "x-y-2": "x-y-2"}
    for run, folder in zip(manifest["runs"], folders):
        for file in run["files"]:
            assert (out / file).is_file()
        published = out / "runs" / run["run_id"] / "predictions.parquet"
        assert published.read_bytes() == (folder / "predictions.parquet").read_bytes()
        assert (
            json.loads((out / "runs" / run["run_id"] / "results.json").read_text())["run"]["name"]
            == run["run"]
        )
    dynamics = {entry["label"]: entry["file"] for entry in manifest["dynamics"]}
    assert len(set(dynamics.values())) == 3
    for label, file in dynamics.items():
        folder = folders[["x y", "x-y", "x-y-2"].index(label)]
        assert (out / file).read_bytes() == (folder / "fairness.jsonl").read_bytes()


def test_folders_without_results_are_skipped_with_one_line_each(eval_results, tmp_path, capsys):
    training = tmp_path / "train-fairgrpo"
    training.mkdir()
    (training / "config.json").write_text("{}")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a run")
    code, out, err = build(
        capsys, eval_results[0], training, notes, eval_results[1], "--out", tmp_path / "board"
    )
    assert code == 0, err
    lines = err.splitlines()
    assert f"skipped {training}: no results.json (not a `clinfair eval` output folder)" in lines
    assert f"skipped {notes}: not a folder (not a `clinfair eval` output folder)" in lines
    assert "found 2 run(s) in 4 path(s) given" in lines
    assert pd.read_parquet(tmp_path / "board" / "leaderboard.parquet")["run"].tolist() == [
        "tiny-grpo",
        "tiny-fairgrpo",
    ]
    code, _, err = build(capsys, training, "--out", tmp_path / "board2")
    assert_one_line_error(code, err, "leaderboard", "none of the 1 path(s) given holds a results.json")
    code, _, err = build(capsys, eval_results[0], tmp_path / "typo", "--out", tmp_path / "board3")
    assert_one_line_error(code, err, "leaderboard", f"{tmp_path / 'typo'}: no such folder")


def test_a_hostile_run_name_stays_text_in_the_markdown_tables(eval_results, tmp_path, capsys):
    """A run name with HTML, a newline, a heading and pipes: one row of as many cells as the header,
    no element, no heading (rendered by markdown-it-py, an independent CommonMark renderer)."""
    markdown_it = pytest.importorskip("markdown_it")
    hostile = "evil <img src=http://127.0.0.1:9/x onerror=alert(1)>\n## heading | a | b"
    named = tmp_path / "named"
    shutil.copytree(eval_results[1], named)
    edit_results(named, lambda r: r["run"].update(name=hostile))
    code, _, err = build(capsys, eval_results[0], named, "--out", tmp_path / "board")
    assert code == 0, err
    for file in ("leaderboard.md", "paper_table.md"):
        html = (
            markdown_it.MarkdownIt("commonmark")
            .enable("table")
            .render((tmp_path / "board" / file).read_text())
        )
        assert "<img" not in html and "<h2>heading" not in html
        for table in html.split("<table>")[1:]:
            head = table.split("</thead>")[0].count("<th>") + table.split("</thead>")[0].count("<th ")
            rows = table.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
            assert len(rows) in (2, 3) and all(row.count("<td") == head for row in rows)
        assert "evil &lt;img src=http://127.0.0.1:9/x onerror=alert(1)&gt; ## heading | a | b" in html


def test_a_chosen_chat_template_is_a_setting_a_checkpoints_own_is_not():
    from clinfair.leaderboard.runs import compared_settings

    own = {"backend": "hf", "chat_template_source": "checkpoint", "chat_template_sha256": "a" * 64}
    other_model = {**own, "chat_template_sha256": "b" * 64}
    assert compared_settings(own) == compared_settings(other_model)  # families differ by design
    chosen = {**own, "chat_template_source": "--chat-template"}
    assert compared_settings(chosen) != compared_settings(own)
    assert compared_settings(chosen) != compared_settings({**chosen, "chat_template_sha256": "c" * 64})
