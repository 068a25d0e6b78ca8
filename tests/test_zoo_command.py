"""``clinfair zoo list`` and ``clinfair zoo build``: a test model from the command line."""

from __future__ import annotations

from bad_inputs import assert_one_line_error, run_cli
from clinfair.benchmark.zoo import ZOO

from clinfair.cli import main


def test_zoo_list_names_every_family(capsys):
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    listed = [line.split()[0] for line in out[1 : 1 + len(ZOO)]]
    assert listed == list(ZOO)
    for line, family in zip(out[1:], ZOO.values()):
        assert family.label in line


def test_zoo_build_gemma3_then_check_model(tmp_path, capsys, monkeypatch):
    """The README's own lines: `clinfair zoo build gemma3 --out m`, then `clinfair check-model m`."""
    monkeypatch.chdir(tmp_path)
    assert main(["zoo", "build", "gemma3", "--out", "m"]) == 0
    assert "try it: clinfair check-model m" in capsys.readouterr().out
    assert main(["check-model", "m"]) == 0
    out = capsys.readouterr().out
    assert "model type gemma3" in out and "verdict: OK" in out
    # a second build into the same folder never replaces it unasked
    code, _, err = run_cli(capsys, "zoo", "build", "gemma3", "--out", "m")
    assert_one_line_error(code, err, "zoo", "--out m already holds a checkpoint; pass --overwrite")
    assert main(["zoo", "build", "gemma3", "--out", "m", "--overwrite", "--seed", "1"]) == 0


def test_unknown_family_and_a_foreign_folder_are_one_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "zoo", "build", "gemma", "--out", tmp_path / "m")
    assert_one_line_error(code, err, "zoo", "unknown zoo family 'gemma'; choose one of gemma3, ")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    code, _, err = run_cli(capsys, "zoo", "build", "gemma3", "--out", mine, "--overwrite")
    assert_one_line_error(code, err, "zoo", "is not empty and holds no checkpoint")
    assert (mine / "notes.txt").read_text() == "mine"


def test_warm_start_trains_saves_and_reports_the_format_rate(tmp_path, data_dir, capsys):
    """A few steps only (the format needs ~100, measured in the report): the path runs, the trained
    weights replace the random ones, and the share of parsable answers is printed."""
    from safetensors.numpy import load_file

    out = tmp_path / "m"
    assert main(["zoo", "build", "gemma3", "--out", str(out)]) == 0
    before = load_file(out / "model.safetensors")
    assert (
        main(
            [
                "zoo",
                "build",
                "gemma3",
                "--out",
                str(out),
                "--overwrite",
                "--warm-start",
                "3",
                "--data",
                data_dir,
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "teaching the answer format on" in printed and "(3 steps)" in printed
    assert "validation answers parse" in printed
    after = load_file(out / "model.safetensors")
    assert before.keys() == after.keys()
    assert any((before[k] != after[k]).any() for k in before)
    assert main(["check-model", str(out)]) == 0
