"""Bad-input corpus of ``clinfair prepare``: never lose a user's files, never count a row twice,
say what is wrong in one line (see tests/bad_inputs.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from bad_inputs import (
    assert_one_line_error,
    cases,
    env_with_repo,
    hidden_siblings,
    read_only_folder,
    run_cli,
    snapshot,
)
from rawdata import write_csv, write_jpeg

REPO = Path(__file__).resolve().parents[1]
METADATA = "HAM10000_metadata.csv"
HEADER = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
ROWS = [
    ["HAM_01", "ISIC_01", "mel", "histo", "45.0", "male", "back"],
    ["HAM_02", "ISIC_02", "nv", "histo", "30.0", "female", "face"],
    ["HAM_03", "ISIC_03", "bcc", "histo", "70.0", "male", "scalp"],
    ["HAM_04", "ISIC_04", "bkl", "histo", "55.0", "female", "trunk"],
]


def ham_raw(folder: Path, rows=ROWS) -> Path:
    """A HAM10000 download (Kaggle layout): the metadata table and one JPEG per image id."""
    write_csv(folder / METADATA, HEADER, rows)
    for n, row in enumerate(rows):
        if len(row) > 1 and row[1]:
            write_jpeg(folder / "HAM10000_images_part_1" / f"{row[1]}.jpg", shade=20 * n)
    return folder


def summary(out: Path) -> dict:
    return json.loads((out / "prepare_summary.json").read_text())


def prepare_ham(capsys, raw: Path, out: Path, *extra):
    return run_cli(capsys, "prepare", "ham10000", "--raw", raw, "--out", out, "--no-progress", *extra)


# -- never lose a user's files -------------------------------------------------------------------


def out_is_the_current_folder(tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    code, _, err = run_cli(
        capsys, "prepare", "synthetic", "-o", "n=20", "--out", ".", "--overwrite", "--no-progress"
    )
    assert_one_line_error(code, err, "prepare", "current folder")
    assert snapshot(work) == {"notes.txt": b"mine"}


def out_is_the_raw_folder(tmp_path, capsys, monkeypatch):
    raw = ham_raw(tmp_path / "HAM10000")
    before = snapshot(raw)
    code, _, err = prepare_ham(capsys, raw, raw, "--overwrite")
    assert_one_line_error(code, err, "prepare", str(raw), "reads")
    assert snapshot(raw) == before


def out_contains_the_raw_folder(tmp_path, capsys, monkeypatch):
    raw = ham_raw(tmp_path / "downloads" / "HAM10000")
    before = snapshot(tmp_path / "downloads")
    code, _, err = prepare_ham(capsys, raw, tmp_path / "downloads", "--overwrite")
    assert_one_line_error(code, err, "prepare", "reads")
    assert snapshot(tmp_path / "downloads") == before


def out_is_a_folder_prepare_did_not_write(tmp_path, capsys, monkeypatch):
    out = tmp_path / "results"
    out.mkdir()
    (out / "paper.tex").write_text("draft")
    code, _, err = run_cli(
        capsys, "prepare", "synthetic", "-o", "n=20", "--out", out, "--overwrite", "--no-progress"
    )
    assert_one_line_error(code, err, "prepare", "not an earlier output", "prepare_summary.json")
    assert snapshot(out) == {"paper.tex": b"draft"}


def overwrite_replaces_an_earlier_output(tmp_path, capsys, monkeypatch):
    out = tmp_path / "data" / "synthetic"
    assert run_cli(capsys, "prepare", "synthetic", "-o", "n=20", "--out", out, "--no-progress")[0] == 0
    code, _, err = run_cli(capsys, "prepare", "synthetic", "-o", "n=30", "--out", out, "--no-progress")
    assert_one_line_error(code, err, "prepare", "already exists", "--overwrite")
    assert (
        run_cli(capsys, "prepare", "synthetic", "-o", "n=30", "--out", out, "--overwrite", "--no-progress")[0]
        == 0
    )
    assert summary(out)["rows"] == 30
    assert hidden_siblings(out) == []


def read_only_out(tmp_path, capsys, monkeypatch):
    with read_only_folder(tmp_path / "locked") as locked:
        code, _, err = run_cli(
            capsys, "prepare", "synthetic", "-o", "n=20", "--out", locked / "data", "--no-progress"
        )
        assert_one_line_error(code, err, "prepare", "cannot write", str(locked / "data"))
        assert list(locked.iterdir()) == []


def kill_9_leaves_no_hidden_folder_behind(tmp_path, capsys, monkeypatch):
    out = tmp_path / "data"
    argv = [
        sys.executable,
        "-m",
        "clinfair.cli",
        "prepare",
        "synthetic",
        "-o",
        "n=100000",
        "--out",
        str(out),
        "--no-progress",
    ]
    process = subprocess.Popen(
        argv, cwd=REPO, env=env_with_repo(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if any(
            p.stat().st_size > 0 for name in hidden_siblings(out) for p in (tmp_path / name).rglob("*.arrow")
        ):
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "prepare finished before it could be killed"
    assert hidden_siblings(out), "the killed run's working folder is the case under test"
    assert run_cli(capsys, "prepare", "synthetic", "-o", "n=20", "--out", out, "--no-progress")[0] == 0
    assert hidden_siblings(out) == [], "the next prepare removes what the killed one left"
    assert summary(out)["rows"] == 20


# -- never count a row twice ---------------------------------------------------------------------


def duplicate_id_in_the_raw_csv(tmp_path, capsys, monkeypatch):
    # the same image listed twice under two lesions: kept twice, it could sit in two splits
    raw = ham_raw(tmp_path / "raw", [*ROWS, ["HAM_09", "ISIC_02", "nv", "histo", "30.0", "female", "face"]])
    code, _, err = prepare_ham(capsys, raw, tmp_path / "out")
    assert_one_line_error(
        code,
        err,
        "prepare",
        f"{METADATA}, row 5, field 'id'",
        "duplicate id 'ISIC_02'",
        "row 2",
        "--skip-bad",
    )
    assert not (tmp_path / "out").exists()
    code, _, _ = prepare_ham(capsys, raw, tmp_path / "out", "--skip-bad")
    assert code == 0
    done = summary(tmp_path / "out")
    assert done["rows"] == 4 and done["skipped"] == 1
    assert done["skipped_reasons"] == {"id: duplicate id": 1}
    from datasets import load_from_disk

    rows = [row for split in load_from_disk(str(tmp_path / "out")).values() for row in split]
    assert sorted(row["id"] for row in rows) == ["ISIC_01", "ISIC_02", "ISIC_03", "ISIC_04"]


# -- one clear line ------------------------------------------------------------------------------


def latin1_csv_names_the_file(tmp_path, capsys, monkeypatch):
    raw = ham_raw(
        tmp_path / "raw", [*ROWS[:2], ["HAM_03", "ISIC_03", "bcc", "histo", "70.0", "male", "tête"]]
    )
    table = raw / METADATA
    table.write_bytes(table.read_text(encoding="utf-8").encode("latin-1"))
    code, _, err = prepare_ham(capsys, raw, tmp_path / "out")
    assert_one_line_error(code, err, "prepare", f"{METADATA}, line 4: not UTF-8 text (byte 0xea)", "iconv")


def short_row_is_reported_as_a_short_row(tmp_path, capsys, monkeypatch):
    raw = ham_raw(tmp_path / "raw", [*ROWS, ["HAM_05", "ISIC_05"]])  # the row stops after image_id
    code, _, err = prepare_ham(capsys, raw, tmp_path / "out")
    assert_one_line_error(
        code, err, "prepare", f"{METADATA}, row 5, field 'dx': short row: 2 of the 7 columns"
    )
    assert "dx value" not in err  # not read as an unknown label
    assert prepare_ham(capsys, raw, tmp_path / "out", "--skip-bad")[0] == 0
    assert summary(tmp_path / "out")["skipped_reasons"] == {"dx: short row": 1}


def skip_reason_says_what_is_wrong(tmp_path, capsys, monkeypatch):
    raw = ham_raw(tmp_path / "raw", [*ROWS, ["HAM_05", "ISIC_05", "nv", "histo", "200", "male", "back"]])
    assert prepare_ham(capsys, raw, tmp_path / "out", "--skip-bad")[0] == 0
    assert summary(tmp_path / "out")["skipped_reasons"] == {"age: age is outside [0, 130] years": 1}


@cases(
    out_is_the_current_folder,
    out_is_the_raw_folder,
    out_contains_the_raw_folder,
    out_is_a_folder_prepare_did_not_write,
    overwrite_replaces_an_earlier_output,
    read_only_out,
    kill_9_leaves_no_hidden_folder_behind,
    duplicate_id_in_the_raw_csv,
    latin1_csv_names_the_file,
    short_row_is_reported_as_a_short_row,
    skip_reason_says_what_is_wrong,
)
def test_prepare_bad_input(case, tmp_path, capsys, monkeypatch):
    case(tmp_path, capsys, monkeypatch)
