"""The ISIC 2020 builder on a tiny raw folder in the official layouts (Kaggle and ISIC archive)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clinfair.tasks import get_task
from clinfair.tasks.builders.base import BuildError, RowError, SkipReport, assign_split
from rawdata import decodes, write_csv, write_jpeg

HEADER = [
    "image_name",
    "patient_id",
    "sex",
    "age_approx",
    "anatom_site_general_challenge",
    "diagnosis",
    "benign_malignant",
    "target",
]
ROWS = [
    ["ISIC_0000001", "IP_0000001", "female", "45.0", "torso", "nevus", "benign", "0"],
    ["ISIC_0000002", "IP_0000001", "female", "45.0", "head/neck", "melanoma", "malignant", "1"],
    ["ISIC_0000003", "IP_0000002", "", "", "", "unknown", "benign", "0"],
    ["ISIC_0000004", "IP_0000003", "male", "80.0", "lower extremity", "unknown", "benign", "0"],
    ["ISIC_0000005", "IP_0000004", "male", "abc", "torso", "nevus", "benign", "0"],  # the bad row: age "abc"
]


def write_raw(
    root: Path, rows=ROWS, csv_name="train.csv", image_folder="train", header=HEADER
) -> dict[str, bytes]:
    """Write the CSV and the JPEGs under ``root``; return each image's bytes by image name."""
    keep = [HEADER.index(name) for name in header]
    write_csv(root / csv_name, header, ([row[i] for i in keep] for row in rows))
    return {
        row[0]: write_jpeg(root / image_folder / f"{row[0]}.jpg", shade=40 * n) for n, row in enumerate(rows)
    }


def build(raw: Path, skip_bad: bool = False) -> tuple[dict[str, dict], SkipReport]:
    spec = get_task("isic2020")
    skips = SkipReport()
    rows = spec.builder_class()(spec, raw).examples(skip_bad=skip_bad, skips=skips)
    return {row["id"]: row for row in rows}, skips


@pytest.mark.parametrize(
    ("csv_name", "image_folder"),
    [
        ("train.csv", "jpeg/train"),  # Kaggle competition
        ("ISIC_2020_Training_GroundTruth.csv", "train"),  # ISIC archive, JPEG zip unpacked in place
        ("ISIC_2020_Training_GroundTruth_v2.csv", "ISIC_2020_Training_JPEG/train"),
    ],
)
def test_rows_field_by_field(tmp_path, csv_name, image_folder):
    images = write_raw(tmp_path, csv_name=csv_name, image_folder=image_folder)
    rows, skips = build(tmp_path, skip_bad=True)

    expected = {  # id: (patient, answer, sex, age, age_group)
        "ISIC_0000001": ("IP_0000001", "benign", "F", 45.0, "A2"),
        "ISIC_0000002": ("IP_0000001", "malignant", "F", 45.0, "A2"),
        "ISIC_0000003": ("IP_0000002", "benign", None, None, None),
        "ISIC_0000004": ("IP_0000003", "benign", "M", 80.0, "A4"),
    }
    assert set(rows) == set(expected)
    spec = get_task("isic2020")
    for image_name, (patient, answer, sex, age, group) in expected.items():
        row = rows[image_name]
        assert row["dataset"] == "isic2020"
        assert row["question"] == spec.question and row["choices"] == ["benign", "malignant"]
        assert row["answer"] == [answer]
        assert (row["sex"], row["age"], row["age_group"]) == (sex, age, group)
        assert row["attributes"] == {}
        assert row["split"] == assign_split(patient)  # the patient, not the image, decides the split
        assert len(row["images"]) == 1 and row["images"][0]["bytes"] == images[image_name]
        assert decodes(row["images"][0])
    assert skips.counts == {"age: unrecognised age value": 1}


def test_bad_age_names_file_row_and_field(tmp_path):
    write_raw(tmp_path)
    with pytest.raises(RowError) as raised:
        build(tmp_path)
    error = raised.value
    assert (error.file, error.row, error.field) == ("train.csv", 5, "age")
    assert str(error).startswith("train.csv, row 5, field 'age'") and "'abc'" in str(error)


@pytest.mark.parametrize(
    ("label", "target", "message"),
    [
        ("indeterminate", "0", "unknown benign_malignant value 'indeterminate'"),
        ("malignant", "0", "target does not match benign_malignant"),
        ("benign", "", "target does not match benign_malignant"),
    ],
)
def test_bad_labels_are_answer_errors(tmp_path, label, target, message):
    write_raw(
        tmp_path, rows=[ROWS[0], ["ISIC_0000009", "IP_0000009", "male", "50", "torso", "x", label, target]]
    )
    with pytest.raises(RowError, match=message) as raised:
        build(tmp_path)
    assert (raised.value.row, raised.value.field) == (2, "answer")


def test_missing_and_truncated_images_are_image_errors(tmp_path):
    write_raw(tmp_path, rows=ROWS[:2])
    (tmp_path / "train/ISIC_0000001.jpg").unlink()
    image = tmp_path / "train/ISIC_0000002.jpg"
    image.write_bytes(image.read_bytes()[:50])
    rows, skips = build(tmp_path, skip_bad=True)
    assert rows == {}
    assert skips.counts == {"images: image file not found": 1, "images: unreadable image": 1}


def test_missing_column_and_missing_folders_are_build_errors(tmp_path):
    write_raw(tmp_path, header=[h for h in HEADER if h != "target"])
    with pytest.raises(BuildError, match=r"train\.csv: missing column\(s\) \['target'\]"):
        build(tmp_path)
    with pytest.raises(BuildError, match="image folders"):
        build(tmp_path / "train")  # a folder of images, not the raw folder
