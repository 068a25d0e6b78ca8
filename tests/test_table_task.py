"""A task defined only by a YAML and a table (clinfair.tasks.builders.table): CSV of image paths, parquet of
image bytes, a `datasets` folder, and HAM10000 read from a `datasets` copy instead of its official
layout. Every file is written here; nothing is downloaded."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from clinfair.tasks import registry
from clinfair.tasks.builders.base import assign_split
from clinfair.tasks.prepare import load_prepared
from clinfair.tasks.registry import get_task, list_tasks, resolve_tasks
from conftest import eval_args, train_args
from PIL import Image
from rawdata import write_csv, write_jpeg, write_png

from clinfair.cli import main

LABELS = {"mel": "melanoma", "nv": "nevus", "bkl": "other"}
SEXES = {"Male": "M", "Female": "F"}


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    """Each test registers its own user tasks; none leaks into another test."""
    monkeypatch.setattr(registry, "_INCLUDED", {})


def png_bytes(shade: int, size=(12, 12)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (shade, 90, 255 - shade)).save(buffer, format="PNG")
    return buffer.getvalue()


def all_rows(folder: Path) -> dict[str, dict]:
    dataset = load_prepared(folder)
    return {row["id"]: {**row, "split": split} for split in dataset for row in dataset[split]}


def csv_task(folder: Path, rows: int = 24) -> tuple[Path, list[list]]:
    """A user folder: derm.yaml and labels.csv with relative paths to PNG files under images/."""
    table = []
    for i in range(rows):
        write_png(folder / "images" / f"img{i}.png", shade=10 * i)
        table.append(
            [
                f"c{i}",
                f"images/img{i}.png",
                list(LABELS)[i % 3],
                list(SEXES)[i % 2],
                18 + 3 * i,
                "I II III".split()[i % 3],
                f"p{i // 2}",
            ]
        )
    write_csv(folder / "labels.csv", ["case", "file", "dx", "gender", "age_years", "fst", "patient"], table)
    (folder / "derm.yaml").write_text(
        """\
key: derm
name: Our dermatology clinic
task_type: multiclass
question: What is the diagnosis of this skin lesion?
choices: [melanoma, nevus, other]
table:
  path: labels.csv
  columns:
    id: case
    image: file
    label: dx
    sex: gender
    age: age_years
    split_key: patient
    attributes: {fitzpatrick: fst}
  value_maps:
    sex: {Male: M, Female: F}
    label: {mel: melanoma, nv: nevus, bkl: other}
"""
    )
    return folder, table


def test_registry_include_path_and_all(tmp_path, capsys):
    folder, _ = csv_task(tmp_path / "mine")
    assert "derm" not in {spec.key for spec in list_tasks()}
    assert main(["tasks", "list", "--include-path", str(folder), "--json"]) == 0
    listed = {task["key"]: task for task in json.loads(capsys.readouterr().out)}
    assert listed["derm"]["demographics"] == ["sex", "age", "fitzpatrick"]
    spec = get_task("derm")
    assert spec.attributes == ("fitzpatrick",) and spec.reads_table and spec.needs_raw
    # `all` stays the seven built-in clinical tasks
    assert "derm" not in {s.key for s in resolve_tasks("all")} and len(resolve_tasks("all")) == 7
    # a user task may not take a built-in key
    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "ham10000.yaml").write_text(
        (folder / "derm.yaml").read_text().replace("key: derm", "key: ham10000")
    )
    assert main(["tasks", "list", "--include-path", str(clash)]) == 2
    err = capsys.readouterr().err
    assert "key 'ham10000' is a built-in task" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_csv_task_prepares_evaluates_trains_and_reaches_the_leaderboard(tmp_path, tiny_vlm, capsys):
    folder, table = csv_task(tmp_path / "mytasks")
    data = tmp_path / "data"
    include = ["--include-path", str(folder)]
    assert main(["prepare", "derm", *include, "--out", str(data / "derm"), "--no-progress"]) == 0
    rows = all_rows(data / "derm")
    assert sorted(rows) == sorted(r[0] for r in table)
    for case, file, dx, gender, age, fst, patient in table:
        row = rows[case]
        assert row["answer"] == [LABELS[dx]] and row["sex"] == SEXES[gender] and row["age"] == age
        assert row["attributes"] == {"fitzpatrick": fst} and row["dataset"] == "derm"
        assert row["split"] == assign_split(patient)  # one patient's images never straddle splits
        assert row["images"][0].tobytes() == Image.open(folder / file).convert("RGB").tobytes()
    assert len({rows[r[0]]["split"] for r in table}) == 3

    run = tmp_path / "run"
    knobs = ("--limit", 6, "--max-new-tokens", 4, "--n-bootstrap", 20, "--no-progress")
    knobs += ("--run-name", "tiny-derm")
    assert main(eval_args(tiny_vlm, data, run, *include, *knobs, tasks="derm")) == 0
    results = json.loads((run / "results.json").read_text())
    assert set(results["tasks"]) == {"derm"}
    predictions = pd.read_parquet(run / "predictions.parquet")
    assert set(predictions["dataset"]) == {"derm"} and len(predictions) == min(
        6, len(load_prepared(data / "derm")["test"])
    )
    assert "fitzpatrick" in predictions.columns

    out = tmp_path / "train"
    steps = ("max_steps=1", "train_limit=8", "eval_limit=4", "fairness_eval_steps=1")
    assert main(train_args(tiny_vlm, data, out, "tasks=[derm]", f"include_path={folder}", *steps)) == 0
    logged = [json.loads(line) for line in (out / "fairness.jsonl").read_text().splitlines()]
    assert logged and set(logged[-1]["by_dataset"]) == {"derm"}

    board = tmp_path / "board"
    assert main(["leaderboard", "build", str(run), "--out", str(board), "--n-bootstrap", "20"]) == 0
    table_rows = pd.read_parquet(board / "leaderboard.parquet")
    assert "tiny-derm" in table_rows.to_string()
    assert (board / "plots" / "scatter_derm.png").is_file()
    assert "derm" in (board / "index.html").read_text()

    # without --include-path, eval says how to get the task and which flag registers it
    registry._INCLUDED.clear()
    assert main(eval_args(tiny_vlm, data, run, *knobs, "--overwrite", tasks="derm")) == 2
    assert "unknown task 'derm'" in capsys.readouterr().err


def test_missing_prepared_user_task_names_the_include_path_command(tmp_path, capsys):
    folder, _ = csv_task(tmp_path / "mine", rows=3)
    code = main(
        eval_args(tmp_path / "m", tmp_path / "data", tmp_path / "run", "--include-path", folder, tasks="derm")
    )
    err = capsys.readouterr().err
    assert (
        code == 2
        and f"clinfair prepare derm --include-path {folder} --out {tmp_path / 'data' / 'derm'}" in err
    )


def test_parquet_with_image_bytes_and_multilabel_list_column(tmp_path):
    folder = tmp_path / "cxr"
    folder.mkdir()
    findings = [["effusion"], ["edema", "effusion"], ["no finding"], ["EDEMA"], ["edema", "edema"]]
    frame = pd.DataFrame(
        {
            "study": [f"s{i}" for i in range(5)],
            "front": [{"bytes": png_bytes(40 * i), "path": f"f{i}.png"} for i in range(5)],
            "side": [png_bytes(40 * i + 1) for i in range(5)],
            "findings": findings,
            "sex": ["F", "M", None, "F", "M"],
            "scanner": ["GE", "Siemens", "GE", None, "GE"],
            "fold": ["tr", "te", "va", "tr", "te"],
        }
    )
    frame.to_parquet(folder / "studies.parquet")
    (folder / "cxr.yaml").write_text(
        """\
key: cxr
task_type: multilabel
question: Which findings does this chest X-ray show?
choices: [effusion, edema, no finding]
table:
  path: studies.parquet
  columns: {id: study, images: [front, side], label: findings, sex: sex, split: fold, attributes: {scanner: scanner}}
  value_maps:
    split: {tr: train, va: validation, te: test}
    label: {effusion: effusion, edema: edema, EDEMA: edema, no finding: no finding}
"""
    )
    assert (
        main(
            ["prepare", "cxr", "--include-path", str(folder), "--out", str(tmp_path / "out"), "--no-progress"]
        )
        == 0
    )
    rows = all_rows(tmp_path / "out")
    expected_answers = [["effusion"], ["edema", "effusion"], ["no finding"], ["edema"], ["edema"]]
    expected_splits = ["train", "test", "validation", "train", "test"]
    for i in range(5):
        row = rows[f"s{i}"]
        assert row["answer"] == expected_answers[i] and row["split"] == expected_splits[i]
        assert [image.tobytes() for image in row["images"]] == [
            Image.open(io.BytesIO(b)).convert("RGB").tobytes()
            for b in (png_bytes(40 * i), png_bytes(40 * i + 1))
        ]
        assert row["attributes"]["scanner"] == frame["scanner"][i]
    assert rows["s2"]["sex"] is None
    # the stored bytes are the source's, not a re-encoding
    import datasets

    raw = load_prepared(tmp_path / "out")["train"].cast_column(
        "images", datasets.List(datasets.Image(decode=False))
    )
    assert raw[0]["images"][0]["bytes"] == png_bytes(0)


def test_datasets_folder_keeps_its_splits_and_jsonl_reads_the_same_rows(tmp_path):
    import datasets

    folder = tmp_path / "own"
    images = [png_bytes(30 * i) for i in range(6)]
    features = datasets.Features(
        {
            "uid": datasets.Value("string"),
            "img": datasets.Image(),
            "y": datasets.Value("int64"),
            "gender": datasets.Value("string"),
        }
    )
    parts = {"train": range(0, 4), "valid": range(4, 6)}
    datasets.DatasetDict(
        {
            split: datasets.Dataset.from_dict(
                {
                    "uid": [f"u{i}" for i in idx],
                    "img": [{"bytes": images[i], "path": None} for i in idx],
                    "y": [i % 2 for i in idx],
                    "gender": ["female" if i % 2 else "male" for i in idx],
                },
                features=features,
            )
            for split, idx in parts.items()
        }
    ).save_to_disk(str(folder / "ds"))
    (folder / "binary.yaml").write_text(
        """\
key: binary
task_type: binary
question: Is this lesion malignant?
choices: [benign, malignant]
table:
  path: ds
  columns: {id: uid, image: img, label: y, sex: gender, split: _split}
  value_maps:
    label: {0: benign, 1: malignant}
    split: {train: train, valid: validation}
"""
    )
    assert (
        main(
            [
                "prepare",
                "binary",
                "--include-path",
                str(folder),
                "--out",
                str(tmp_path / "out"),
                "--no-progress",
            ]
        )
        == 0
    )
    rows = all_rows(tmp_path / "out")
    for i in range(6):
        row = rows[f"u{i}"]
        assert row["split"] == ("train" if i < 4 else "validation")
        assert row["answer"] == [["benign", "malignant"][i % 2]] and row["sex"] == "FM"[i % 2 == 0]
    # the same rows from a JSONL file of image paths, through --raw and the same YAML
    lines = []
    for i in range(6):
        (folder / f"u{i}.png").write_bytes(images[i])
        lines.append(
            json.dumps(
                {
                    "uid": f"u{i}",
                    "img": f"u{i}.png",
                    "y": i % 2,
                    "gender": ["male", "female"][i % 2],
                    "_split": "train" if i < 4 else "valid",
                }
            )
        )
    (folder / "rows.jsonl").write_text("\n".join(lines) + "\n")
    code = main(
        ["prepare", "binary", "--include-path", str(folder), "--raw", str(folder / "rows.jsonl")]
        + ["--out", str(tmp_path / "out2"), "--no-progress"]
    )
    assert code == 0
    again = all_rows(tmp_path / "out2")
    strip = lambda rows: {k: {f: v for f, v in r.items() if f != "images"} for k, r in rows.items()}  # noqa: E731
    assert strip(again) == strip(rows)


def test_ham10000_from_a_datasets_copy_matches_the_official_layout(tmp_path):
    import datasets

    header = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
    table = [
        ["HAM_01", "ISIC_01", "mel", "histo", "45.0", "male", "back"],
        ["HAM_01", "ISIC_02", "mel", "histo", "45.0", "male", "back"],
        ["HAM_02", "ISIC_03", "nv", "follow_up", "30.0", "female", "face"],
        ["HAM_03", "ISIC_04", "bkl", "histo", "", "unknown", "trunk"],
        ["HAM_04", "ISIC_05", "akiec", "histo", "80.0", "female", "scalp"],
    ]
    official = tmp_path / "HAM10000"
    write_csv(official / "HAM10000_metadata.csv", header, table)
    jpegs = [
        write_jpeg(official / "HAM10000_images_part_1" / f"{row[1]}.jpg", shade=40 * n)
        for n, row in enumerate(table)
    ]
    assert (
        main(["prepare", "ham10000", "--raw", str(official), "--out", str(tmp_path / "a"), "--no-progress"])
        == 0
    )

    copy = datasets.Dataset.from_dict(
        {
            "image": [{"bytes": b, "path": f"{row[1]}.jpg"} for b, row in zip(jpegs, table)],
            **{name: [row[n] or None for row in table] for n, name in enumerate(header)},
        },
        features=datasets.Features(
            {"image": datasets.Image(), **{name: datasets.Value("string") for name in header}}
        ),
    )
    copy.save_to_disk(str(tmp_path / "ham_copy"))
    assert (
        main(
            [
                "prepare",
                "ham10000",
                "--raw",
                str(tmp_path / "ham_copy"),
                "--out",
                str(tmp_path / "b"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert all_rows(tmp_path / "b") == all_rows(tmp_path / "a")


def test_builtin_task_read_through_a_columns_file(tmp_path, capsys):
    """A copy whose columns and codes differ from the official ones: --columns maps them."""
    folder = tmp_path / "copy"
    rows = [["a1", "img/a1.jpg", "Melanoma", "M", "40", "L1"], ["a2", "img/a2.jpg", "Nevus", "F", "52", "L2"]]
    for n, row in enumerate(rows):
        write_jpeg(folder / row[1], shade=50 * n)
    write_csv(folder / "meta.csv", ["image", "file", "diagnosis", "s", "a", "lesion"], rows)
    columns = tmp_path / "ham_columns.yaml"
    columns.write_text(
        "columns: {id: image, image: file, label: diagnosis, sex: s, age: a, split_key: lesion}\n"
        "value_maps: {label: {Melanoma: melanoma, Nevus: nevus}}\n"
    )
    argv = [
        "prepare",
        "ham10000",
        "--raw",
        str(folder / "meta.csv"),
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
    ]
    assert main(argv + ["--columns", str(columns)]) == 0
    built = all_rows(tmp_path / "out")
    assert {k: (r["answer"], r["sex"], r["age"], r["split"]) for k, r in built.items()} == {
        "a1": (["melanoma"], "M", 40.0, assign_split("L1")),
        "a2": (["nevus"], "F", 52.0, assign_split("L2")),
    }
    assert {r["dataset"] for r in built.values()} == {"ham10000"}


def test_folder_of_parquet_files_is_streamed_with_load_dataset(tmp_path):
    folder = tmp_path / "shards"
    (folder / "data").mkdir(parents=True)
    for part in range(2):
        pd.DataFrame(
            {
                "uid": [f"u{part}{i}" for i in range(3)],
                "img": [{"bytes": png_bytes(20 * i + part), "path": None} for i in range(3)],
                "y": ["a", "b", "a"],
            }
        ).to_parquet(
            (folder / "data").mkdir(parents=True, exist_ok=True) or folder / "data" / f"train-{part}.parquet"
        )
    (folder / "t.yaml").write_text(
        "key: t\ntask_type: binary\nquestion: q?\nchoices: [a, b]\n"
        "table:\n  path: data\n  columns: {id: uid, image: img, label: y}\n"
    )
    assert (
        main(["prepare", "t", "--include-path", str(folder), "--out", str(tmp_path / "out"), "--no-progress"])
        == 0
    )
    rows = all_rows(tmp_path / "out")
    assert sorted(rows) == [f"u{p}{i}" for p in range(2) for i in range(3)]
    assert all(row["answer"] == [["a", "b", "a"][int(key[2])]] for key, row in rows.items())


def test_user_task_prepares_the_same_rows_with_worker_processes(tmp_path, capsys):
    """`--num-proc 2` rebuilds the builder in each worker: a user task (known only through
    --include-path in this process) must give the same rows and hashes as one process."""
    folder, _ = csv_task(tmp_path / "tasks")
    outs = {}
    for procs in (1, 2):
        out = tmp_path / f"out{procs}"
        args = ["prepare", "derm", "--include-path", str(folder), "--out", str(out), "--num-proc", str(procs)]
        assert main(args) == 0, capsys.readouterr().err
        outs[procs] = out
    assert all_rows(outs[1]) == all_rows(outs[2])
    manifests = [json.loads((outs[p] / "split_manifest.json").read_text()) for p in (1, 2)]
    assert manifests[0]["splits"] == manifests[1]["splits"]


def _cxr_task(folder: Path, findings: list, grades: list, key: str = "cxr") -> Path:
    """A multilabel parquet task with an integer attribute that has a blank (parquet: float)."""
    folder.mkdir(parents=True)
    n = len(findings)
    pd.DataFrame(
        {
            "study": [f"s{i}" for i in range(n)],
            "image": [png_bytes(30 * i) for i in range(n)],
            "findings": findings,
            "grade": grades,
        }
    ).to_parquet(folder / "studies.parquet")
    (folder / f"{key}.yaml").write_text(
        f"""\
key: {key}
task_type: multilabel
question: Which findings does this chest X-ray show?
choices: [effusion, edema]
table:
  path: studies.parquet
  columns: {{id: study, image: image, label: findings, attributes: {{grade: grade}}}}
  value_maps:
    label: {{effusion: effusion, edema: edema, artefact: null}}
"""
    )
    return folder


def test_multilabel_null_rows_and_integer_attributes_from_parquet(tmp_path, capsys):
    """A row whose labels all map to null is left out and counted; a null among other labels is
    one row error (dropping a label would change the ground truth unseen). An integer column with
    a blank reaches pandas as floats: its groups are still "3", as from a CSV, not "3.0"."""
    findings = [["effusion"], ["artefact"], ["edema", "effusion"], ["edema"]]
    folder = _cxr_task(tmp_path / "ok", findings, [3, None, 4, 3])
    out = tmp_path / "out"
    assert main(["prepare", "cxr", "--include-path", str(folder), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "findings 'artefact' mapped to null" in printed
    rows = all_rows(out)
    assert sorted(rows) == ["s0", "s2", "s3"]
    assert [rows[k]["attributes"]["grade"] for k in ("s0", "s2", "s3")] == ["3", "4", "3"]

    bad = _cxr_task(tmp_path / "bad", [["effusion"], ["edema", "artefact"]], [1, 2], key="cxr2")
    code = main(
        ["prepare", "cxr2", "--include-path", str(bad), "--out", str(tmp_path / "o2"), "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "'artefact' is mapped to null among other labels" in err and "row 2" in err, err


def test_user_task_exported_for_lm_eval_loads_in_a_fresh_process_registry(tmp_path, capsys, monkeypatch):
    """`clinfair lm-eval-tasks --include-path DIR` writes clinfair_<key>.yaml naming DIR, so lm-eval
    (another process, with only the built-in tasks registered) finds the user's task."""
    import yaml
    from clinfair.benchmark.lmeval import harness

    folder, _ = csv_task(tmp_path / "tasks")
    data = tmp_path / "data"
    assert main(["prepare", "derm", "--include-path", str(folder), "--out", str(data / "derm")]) == 0
    out = tmp_path / "lm"
    assert main(["lm-eval-tasks", "--include-path", str(folder), "--out", str(out), "--data", str(data)]) == 0
    capsys.readouterr()
    task = yaml.safe_load((out / "clinfair_derm.yaml").read_text())
    assert task["dataset_kwargs"]["clinfair_include_path"] == str(folder.resolve())
    assert "clinfair_include_path" not in (out / "clinfair_ham10000.yaml").read_text()

    monkeypatch.setattr(registry, "_INCLUDED", {})  # as in lm-eval's own process
    docs = harness.load_docs(**task["dataset_kwargs"])["test"]
    expected = load_prepared(data / "derm")["test"]
    assert [doc["id"] for doc in docs] == expected["id"]
    assert harness.doc_to_text(docs[0]).endswith(
        harness.build_prompt(docs[0]["question"], docs[0]["choices"], False)
    )
