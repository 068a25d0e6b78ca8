"""Bad-input corpus of a user's table task (``clinfair.tasks.builders.table``): one line naming the file, the
row and the column, or a counted skip with ``--skip-bad`` (see tests/bad_inputs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bad_inputs import assert_one_line_error, cases, run_cli, snapshot
from clinfair.tasks import registry
from rawdata import write_csv, write_png

HEADER = ["case", "file", "dx", "gender", "age"]
ROWS = [
    ["c1", "images/c1.png", "mel", "Male", "40"],
    ["c2", "images/c2.png", "nv", "Female", "55"],
    ["c3", "images/c3.png", "mel", "Female", "61"],
]
COLUMNS = "{id: case, image: file, label: dx, sex: gender, age: age}"
MAPS = "{sex: {Male: M, Female: F}, label: {mel: melanoma, nv: nevus}}"


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    monkeypatch.setattr(registry, "_INCLUDED", {})


def user_task(
    folder: Path, rows=ROWS, columns: str = COLUMNS, maps: str | None = MAPS, path: str = "labels.csv"
) -> Path:
    """derm.yaml + labels.csv + one PNG per listed image under ``folder``."""
    write_csv(folder / "labels.csv", HEADER, rows)
    for n, row in enumerate(rows):
        if row[1] and row[0] != "c9":  # c9: a row whose image is listed but not there
            write_png(folder / row[1], shade=30 * n)
    text = (
        "key: derm\ntask_type: multiclass\nquestion: What is the diagnosis?\n"
        f"choices: [melanoma, nevus]\ntable:\n  path: {path}\n  columns: {columns}\n"
    )
    (folder / "derm.yaml").write_text(text + (f"  value_maps: {maps}\n" if maps else ""))
    return folder


def prepare(capsys, folder: Path, out: Path, *extra):
    return run_cli(capsys, "prepare", "derm", "--include-path", folder, "--out", out, "--no-progress", *extra)


def summary(out: Path) -> dict:
    return json.loads((out / "prepare_summary.json").read_text())


def column_map_names_a_missing_column(tmp_path, capsys, monkeypatch):
    folder = user_task(tmp_path / "t", columns=COLUMNS.replace("label: dx", "label: diagnosis"))
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(
        code, err, "prepare", "labels.csv: the column map", "label -> 'diagnosis'", "table.columns"
    )
    assert not (tmp_path / "out").exists()


def label_outside_the_label_space(tmp_path, capsys, monkeypatch):
    rows = [*ROWS, ["c4", "images/c4.png", "Melanoma", "Male", "30"]]
    folder = user_task(tmp_path / "t", rows, maps="{sex: {Male: M, Female: F}}")
    (folder / "labels.csv").write_text(
        (folder / "labels.csv").read_text().replace(",mel,", ",melanoma,").replace(",nv,", ",nevus,")
    )
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(
        code,
        err,
        "prepare",
        "labels.csv, row 4, field 'dx'",
        "label(s) outside the label space: 'Melanoma'",
        "--skip-bad",
    )
    assert prepare(capsys, folder, tmp_path / "out", "--skip-bad")[0] == 0
    done = summary(tmp_path / "out")
    assert done["rows"] == 3 and done["skipped_reasons"] == {"dx: label(s) outside the label space": 1}


def value_map_leaves_a_value_unmapped(tmp_path, capsys, monkeypatch):
    rows = [*ROWS, ["c4", "images/c4.png", "nv", "Other", "30"]]
    folder = user_task(tmp_path / "t", rows)
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(
        code, err, "prepare", "labels.csv, row 4, field 'gender'", "value 'Other' is not in value_maps.sex"
    )
    assert prepare(capsys, folder, tmp_path / "out", "--skip-bad")[0] == 0
    assert summary(tmp_path / "out")["skipped_reasons"] == {"gender: value is not in value_maps.sex": 1}


def label_map_leaves_a_value_unmapped(tmp_path, capsys, monkeypatch):
    folder = user_task(tmp_path / "t", [*ROWS, ["c4", "images/c4.png", "bcc", "Male", "30"]])
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(
        code, err, "prepare", "row 4, field 'dx'", "value 'bcc' is not in value_maps.label", "'mel'"
    )


def label_mapped_to_null_is_left_out_and_counted(tmp_path, capsys, monkeypatch):
    folder = user_task(tmp_path / "t", [*ROWS, ["c4", "images/c4.png", "unsure", "Male", "30"]])
    (folder / "derm.yaml").write_text(
        (folder / "derm.yaml").read_text().replace("nv: nevus}", "nv: nevus, unsure: null}")
    )
    code, out, _ = prepare(capsys, folder, tmp_path / "out")
    assert code == 0 and "excluded by option: 1 dx 'unsure' mapped to null" in out
    assert summary(tmp_path / "out")["rows"] == 3


def image_path_does_not_exist(tmp_path, capsys, monkeypatch):
    folder = user_task(tmp_path / "t", [*ROWS, ["c9", "images/c9.png", "nv", "Male", "30"]])
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(
        code, err, "prepare", "labels.csv, row 4, field 'file'", "image file not found", "c9.png"
    )
    assert prepare(capsys, folder, tmp_path / "out", "--skip-bad")[0] == 0
    assert summary(tmp_path / "out")["skipped_reasons"] == {"file: image file not found": 1}


def hub_id_unreachable_offline(tmp_path, capsys, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    folder = user_task(tmp_path / "t", path="hf:clinfair-tests/no-such-dataset")
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(
        code, err, "prepare", "cannot load Hub dataset 'clinfair-tests/no-such-dataset'", "offline"
    )
    assert not (tmp_path / "out").exists()


def table_file_does_not_exist(tmp_path, capsys, monkeypatch):
    folder = user_task(tmp_path / "t", path="label.csv")
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(code, err, "prepare", f"table {folder / 'label.csv'} does not exist", "table.path")


def misspelt_column_map_key(tmp_path, capsys, monkeypatch):
    folder = user_task(tmp_path / "t", columns=COLUMNS.replace("label:", "lable:"))
    code, _, err = run_cli(capsys, "tasks", "list", "--include-path", folder)
    assert_one_line_error(code, err, "tasks", "derm.yaml: table.columns", "'lable' (did you mean 'label'?)")


def bad_jsonl_line_is_a_row_error(tmp_path, capsys, monkeypatch):
    folder = user_task(tmp_path / "t", path="rows.jsonl")
    lines = [json.dumps(dict(zip(HEADER, row))) for row in ROWS]
    (folder / "rows.jsonl").write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(code, err, "prepare", "rows.jsonl, row 2, field 'row': not a JSON line")
    assert prepare(capsys, folder, tmp_path / "out", "--skip-bad")[0] == 0
    assert summary(tmp_path / "out")["rows"] == 3 and summary(tmp_path / "out")["skipped"] == 1


def unreadable_image_bytes_in_parquet(tmp_path, capsys, monkeypatch):
    import pandas as pd

    folder = user_task(
        tmp_path / "t", path="rows.parquet", columns=COLUMNS.replace("image: file", "image: png")
    )
    frame = pd.DataFrame(ROWS, columns=HEADER)
    frame["png"] = [(folder / f).read_bytes() for f in frame["file"]]
    frame.loc[1, "png"] = frame.loc[1, "png"][:20]  # a cut-off blob
    frame.to_parquet(folder / "rows.parquet")
    code, _, err = prepare(capsys, folder, tmp_path / "out")
    assert_one_line_error(code, err, "prepare", "rows.parquet, row 2, field 'png': unreadable image bytes")


def builtin_task_from_a_hub_id_without_a_column_map(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys, "prepare", "chexpert", "--raw", "hf:org/chexpert-copy", "--out", tmp_path / "o"
    )
    assert_one_line_error(code, err, "prepare", "chexpert has no column map", "--columns FILE")


def user_task_key_clashes_with_a_builtin(tmp_path, capsys, monkeypatch):
    folder = user_task(tmp_path / "t")
    (folder / "derm.yaml").rename(folder / "isic2020.yaml")
    path = folder / "isic2020.yaml"
    path.write_text(path.read_text().replace("key: derm", "key: isic2020"))
    before = snapshot(folder)
    code, _, err = run_cli(capsys, "prepare", "isic2020", "--include-path", folder, "--out", tmp_path / "o")
    assert_one_line_error(code, err, "prepare", "key 'isic2020' is a built-in task")
    assert snapshot(folder) == before and not (tmp_path / "o").exists()


def include_path_is_not_a_folder(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys,
        "eval",
        "--include-path",
        tmp_path / "nope",
        "--model",
        "m",
        "--tasks",
        "x",
        "--out",
        tmp_path / "o",
    )
    assert_one_line_error(code, err, "eval", f"--include-path {tmp_path / 'nope'}: not a folder")


def recipe_include_path_is_not_a_folder(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(
        capsys,
        "train",
        "--method",
        "grpo",
        "--recipe",
        "tiny-cpu",
        f"include_path={tmp_path / 'nope'}",
        f"output_dir={tmp_path / 'o'}",
    )
    assert_one_line_error(code, err, "train", "override 'include_path=", "not a folder")


@cases(
    column_map_names_a_missing_column,
    label_outside_the_label_space,
    value_map_leaves_a_value_unmapped,
    label_map_leaves_a_value_unmapped,
    label_mapped_to_null_is_left_out_and_counted,
    image_path_does_not_exist,
    hub_id_unreachable_offline,
    table_file_does_not_exist,
    misspelt_column_map_key,
    bad_jsonl_line_is_a_row_error,
    unreadable_image_bytes_in_parquet,
    builtin_task_from_a_hub_id_without_a_column_map,
    user_task_key_clashes_with_a_builtin,
    include_path_is_not_a_folder,
    recipe_include_path_is_not_a_folder,
)
def test_table_task_bad_input(case, tmp_path, capsys, monkeypatch):
    case(tmp_path, capsys, monkeypatch)
