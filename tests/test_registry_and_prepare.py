"""The task registry, `clinfair tasks list` and `clinfair prepare` (streaming, summary, skips)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from clinfair.tasks import get_task, list_tasks, resolve_tasks
from clinfair.tasks.builders.base import Builder, RawRecord, RowError, assign_split
from clinfair.tasks.prepare import load_prepared, prepare
from clinfair.tasks.spec import UnknownTaskError

from clinfair.cli import main

PAPER_TASKS = {
    "chexpert",
    "ct_hemorrhage",
    "vindr_mammo",
    "isic2020",
    "ham10000",
    "pad_ufes20",
    "covid_blues",
}


def test_registry_holds_the_seven_datasets_and_synthetic():
    assert {spec.key for spec in list_tasks()} == PAPER_TASKS | {"synthetic"}
    for spec in list_tasks():
        assert spec.choices and spec.question and spec.access and spec.source
        assert set(spec.demographics) <= {"sex", "age", *spec.attributes}
        assert spec.builder_class().__name__ == spec.builder.split(":")[1]


def test_resolve_tasks():
    assert [s.key for s in resolve_tasks("synthetic, ham10000")] == ["synthetic", "ham10000"]
    assert len(resolve_tasks("all")) == 7  # the clinical tasks; synthetic only when named
    with pytest.raises(UnknownTaskError, match="known tasks"):
        get_task("mimic")


def test_tasks_list_cli_shows_all_eight(capsys):
    assert main(["tasks", "list"]) == 0
    out = capsys.readouterr().out
    for key in PAPER_TASKS | {"synthetic"}:
        assert key in out
    assert main(["tasks", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {t["key"] for t in listed} == PAPER_TASKS | {"synthetic"}


def test_assign_split_is_stable_and_roughly_proportional():
    splits = [assign_split(f"patient{i}") for i in range(5000)]
    assert splits == [assign_split(f"patient{i}") for i in range(5000)]
    share = splits.count("train") / len(splits)
    assert 0.67 < share < 0.73
    assert assign_split("p", seed=1) in {"train", "validation", "test"}


def test_prepare_synthetic_writes_a_datasetdict_with_summary(tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["prepare", "synthetic", "--out", str(out), "-o", "n=200", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "synthetic: 200 rows" in printed and "skipped: 0" in printed
    dataset = load_prepared(out)
    summary = json.loads((out / "prepare_summary.json").read_text())
    assert sum(len(dataset[s]) for s in dataset) == summary["rows"] == 200
    assert {s: len(dataset[s]) for s in dataset} == summary["rows_per_split"]
    for split, groups in summary["rows_per_group"].items():
        assert sum(groups.values()) == len(dataset[split])
    nulls = sum(r["sex"] is None for s in dataset for r in dataset[s].select_columns(["sex"]))
    assert summary["nulls"]["sex"] == nulls
    row = dataset["train"][0]
    assert row["images"][0].size == (56, 56) and row["answer"][0] in row["choices"]
    # refuses to overwrite without --overwrite, and says so in one line
    assert main(["prepare", "synthetic", "--out", str(out), "-o", "n=10", "--no-progress"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_builder_options_are_read_as_yaml_with_exponent_floats():
    from clinfair.commands.tasks import parse_options

    # the same reader as recipes: YAML 1.1 alone would give the string "5e-1"
    assert parse_options(["cue_strength=5e-1", "n=1_000", "group_difficulty={F|A1: 0.2}", "seed=x"]) == {
        "cue_strength": 0.5,
        "n": 1000,
        "group_difficulty": {"F|A1": 0.2},
        "seed": "x",
    }


def test_synthetic_is_deterministic_and_prefix_stable():
    spec = get_task("synthetic")
    small = list(spec.builder_class()(spec, n=30).examples())
    large = list(spec.builder_class()(spec, n=60).examples())
    assert small == large[:30]
    other_seed = list(spec.builder_class()(spec, n=30, seed=1).examples())
    assert [r["answer"] for r in other_seed] != [r["answer"] for r in small]


def test_synthetic_planted_imbalance_follows_group_shares():
    from collections import Counter

    from clinfair.tasks.schema import group_key

    spec = get_task("synthetic")
    shares = {"F|A1": 0.1, "M|A2": 0.9}
    rows = spec.builder_class()(spec, n=2000, group_shares=shares, null_demographics=0.0).examples()
    counts = Counter(group_key(r) for r in rows)
    assert set(counts) == set(shares)
    assert 0.08 < counts["F|A1"] / 2000 < 0.12


def test_synthetic_cue_decides_the_label():
    """Without noise the lesion colour separates the classes perfectly (a known ground truth)."""
    import numpy as np

    spec = get_task("synthetic")
    builder = spec.builder_class()(spec, n=200)
    redness = []
    for i in range(200):
        latent = builder.draw(i)
        centre = latent["pixels"][24:32, 24:32].astype(float)
        redness.append((latent["malignant"], centre[..., 0].mean() - centre[..., 2].mean(), centre.mean()))
    malignant = np.array([brightness for m, _, brightness in redness if m])
    benign = np.array([brightness for m, _, brightness in redness if not m])
    assert malignant.max() < benign.min()


def test_synthetic_group_difficulty_adds_label_noise():
    spec = get_task("synthetic")
    noisy = spec.builder_class()(spec, n=400, group_shares={"F|A1": 1.0}, group_difficulty={"F|A1": 1.0})
    agree = sum(
        (noisy.draw(i)["pixels"][26:30, 26:30].mean() < 120) == noisy.draw(i)["malignant"] for i in range(400)
    )
    assert 0.4 < agree / 400 < 0.6  # the cue is independent of the label


def test_synthetic_rejects_bad_options():
    spec = get_task("synthetic")
    with pytest.raises(ValueError, match="group_shares"):
        spec.builder_class()(spec, group_shares={"X|A1": 1.0})
    with pytest.raises(Exception, match="unknown option"):
        spec.builder_class()(spec, colour="red")


class FlakyBuilder(Builder):
    """Rows 0..4, where row 2 has an unreadable age: exercises the skip machinery of prepare."""

    def records(self):
        for i in range(5):
            yield RawRecord("meta.csv", i + 1, {"i": i})

    def to_example(self, record):
        i = record.data["i"]
        return self.example(
            id=str(i),
            split="train",
            images=[{"bytes": _png(), "path": f"{i}.png"}],
            answer=["benign"],
            sex="F",
            age="abc" if i == 2 else 40,
        )


@pytest.fixture
def flaky_spec():
    return replace(
        get_task("synthetic"), key="flaky", builder="test_registry_and_prepare:FlakyBuilder", options={}
    )


def test_prepare_stops_on_a_bad_row_naming_file_row_and_field(tmp_path, flaky_spec):
    with pytest.raises(RowError) as info:
        prepare(flaky_spec, tmp_path / "out", progress=False)
    assert str(info.value).startswith("meta.csv, row 3, field 'age'")
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_prepare_skip_bad_counts_the_skip(tmp_path, flaky_spec):
    summary = prepare(flaky_spec, tmp_path / "out", skip_bad=True, progress=False)
    assert summary.rows == 4 and summary.skipped == 1
    assert summary.skipped_reasons == {"age: unrecognised age value": 1}
    assert "meta.csv, row 3" in summary.skipped_examples[0]
    assert "skipped: 1" in summary.to_text()


def test_prepare_cli_reports_bad_rows_in_one_line(tmp_path, capsys, monkeypatch, flaky_spec):
    import clinfair.tasks.registry

    monkeypatch.setattr(clinfair.tasks.registry, "_registry", lambda: {"flaky": flaky_spec})
    assert main(["prepare", "flaky", "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "meta.csv, row 3, field 'age'" in err and "--skip-bad" in err and "Traceback" not in err
    assert main(["prepare", "flaky", "--out", str(tmp_path / "o"), "--no-progress", "--skip-bad"]) == 0
    assert main(["prepare", "nope", "--out", str(tmp_path / "p")]) == 2


def test_raw_folder_is_required_for_real_datasets(tmp_path, capsys):
    assert main(["prepare", "ham10000", "--out", str(tmp_path / "o")]) == 2
    assert "--raw" in capsys.readouterr().err
    assert (
        main(["prepare", "ham10000", "--raw", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    )
    assert "does not exist" in capsys.readouterr().err


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


# -- pinned splits ------------------------------------------------------------------------------


def test_split_manifest_pins_the_ids_and_content_hash_of_each_split(tmp_path, capsys):
    from clinfair.tasks.manifest import ManifestMismatch, check_manifest
    from split_hash import split_sha256, stored_rows

    out = tmp_path / "syn"
    assert main(["prepare", "synthetic", "--out", str(out), "-o", "n=120", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    manifest = json.loads((out / "split_manifest.json").read_text())
    summary = json.loads((out / "prepare_summary.json").read_text())
    assert manifest["task"] == "synthetic" and manifest["options"]["n"] == 120
    assert list(manifest["splits"]) == ["train", "validation", "test"]
    for split, entry in manifest["splits"].items():
        rows = stored_rows(out, split)
        assert entry["ids"] == [row["id"] for row in rows] and entry["rows"] == len(rows)
        assert entry["sha256"] == split_sha256(rows) == summary["sha256"][split]
        assert f"sha256 {split:<10} {entry['sha256']}" in printed
    assert sum(len(e["ids"]) for e in manifest["splits"].values()) == 120
    check_manifest(out, load_prepared(out))  # the folder as written passes its own check

    # same ids, other pixels (a weaker cue): another hash, and the pinned manifest refuses the swap
    other = tmp_path / "weak"
    assert main(["prepare", "synthetic", "--out", str(other), "-o", "n=120", "-o", "cue_strength=0.5"]) == 0
    weak = json.loads((other / "split_manifest.json").read_text())
    assert weak["splits"]["test"]["ids"] == manifest["splits"]["test"]["ids"]
    assert weak["splits"]["test"]["sha256"] != manifest["splits"]["test"]["sha256"]
    shard = "test/data-00000-of-00001.arrow"
    (out / shard).write_bytes((other / shard).read_bytes())
    with pytest.raises(ManifestMismatch, match=r"syn: the test rows hash to .* split_manifest.json pinned"):
        check_manifest(out, load_prepared(out))


def test_images_keep_their_original_bytes(tmp_path, monkeypatch):
    """A JPEG is stored byte for byte (never re-encoded), and with its bytes even when a file of
    the same name sits in the current folder (datasets would otherwise store the bare name)."""
    from rawdata import write_csv, write_jpeg
    from split_hash import stored_rows

    header = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
    write_csv(
        tmp_path / "raw" / "HAM10000_metadata.csv", header, [["L1", "ISIC_1", "mel", "h", "40", "male", "x"]]
    )
    original = write_jpeg(tmp_path / "raw" / "HAM10000_images" / "ISIC_1.jpg", shade=90)
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "ISIC_1.jpg").write_bytes(b"not this file")
    monkeypatch.chdir(tmp_path / "cwd")
    prepare(get_task("ham10000"), tmp_path / "out", tmp_path / "raw", progress=False)
    (split,) = [s for s in ("train", "validation", "test") if (tmp_path / "out" / s).is_dir()]
    (row,) = stored_rows(tmp_path / "out", split)
    assert row["images"] == [{"bytes": original, "path": None}]


def _ham_raw_with_bad_rows(folder, n=300):
    """A HAM10000 folder of ``n`` rows where some are bad: missing image, unknown dx, bad age, duplicate id."""
    from rawdata import write_csv, write_jpeg

    header = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
    labels = ["mel", "nv", "bcc", "akiec", "bkl", "df", "vasc"]
    rows = []
    for i in range(n):
        image = f"ISIC_{i:05d}"
        dx = "xyz" if i % 37 == 5 else labels[i % len(labels)]
        age = "abc" if i % 41 == 7 else str(5 * (i % 18))
        rows.append([f"HAM_{i // 2:05d}", image, dx, "histo", age, ("male", "female", "")[i % 3], "back"])
        if i % 29 != 3:  # every 29th image is missing
            write_jpeg(folder / "HAM10000_images_part_1" / f"{image}.jpg", shade=i % 250, size=(16, 16))
    rows.insert(150, list(rows[10]))  # a duplicate id in the middle
    write_csv(folder / "HAM10000_metadata.csv", header, rows)
    return folder


@pytest.mark.parametrize("start", ["fork", "spawn"])  # Linux forks its workers; macOS and Windows spawn
def test_num_proc_gives_the_same_output_as_one_process(tmp_path, capsys, monkeypatch, start):
    from clinfair.tasks.builders import base

    monkeypatch.setattr(base, "_WORKER_START", start)
    raw = _ham_raw_with_bad_rows(tmp_path / "raw")
    outputs = {}
    for procs in ("1", "2"):
        out = tmp_path / f"out{procs}"
        args = [
            "prepare",
            "ham10000",
            "--raw",
            str(raw),
            "--out",
            str(out),
            "--no-progress",
            "--num-proc",
            procs,
        ]
        assert main(args) == 2  # the first bad row stops both, with the same line
        outputs[f"error{procs}"] = capsys.readouterr().err
        assert main([*args, "--skip-bad"]) == 0
        capsys.readouterr()
        outputs[procs] = {
            path.relative_to(out).as_posix(): path.read_bytes()
            for path in sorted(out.rglob("*"))
            if path.is_file() and path.name != "state.json"  # state.json holds a per-file fingerprint
        }
    assert outputs["error1"] == outputs["error2"] and "ISIC_00003.jpg" in outputs["error1"]
    assert outputs["1"] == outputs["2"]
    summary = json.loads(outputs["1"]["prepare_summary.json"])
    # 11 missing images, 8 unknown dx (row 264 has both: counted once, as dx), 8 bad ages, 1 duplicate id
    assert summary["skipped"] == 11 + 8 - 1 + 8 + 1
    assert summary["rows"] == 301 - summary["skipped"]
    assert any(name.endswith(".arrow") for name in outputs["1"])
