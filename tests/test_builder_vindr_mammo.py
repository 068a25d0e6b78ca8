"""VinDr-Mammo builder on a tiny raw folder in the PhysioNet layout (real DICOM files)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from clinfair.tasks import get_task
from clinfair.tasks.builders.base import BuildError, RowError, SkipReport
from rawdata import pixels, truncate, write_csv, write_dicom

ANNOTATION_HEADER = [
    "study_id",
    "series_id",
    "image_id",
    "laterality",
    "view_position",
    "height",
    "width",
    "breast_birads",
    "breast_density",
    "split",
]
METADATA_HEADER = ["SOP Instance UID", "Series Instance UID", "Patient's Age", "Manufacturer"]

# Three vertical bands of raw values (12 bits stored): 100 | 1000 | 4000, in a 20 x 40 image.
BANDS = np.zeros((20, 40), dtype=np.uint16)
BANDS[:, :13], BANDS[:, 13:26], BANDS[:, 26:] = 100, 1000, 4000
BAND_COLUMNS = (2, 10, 17)  # one column inside each band once resized to 20 x 10

# image_id -> (study_id, photometric interpretation, PatientAge header, VOI window (centre, width))
DICOMS = {
    "img_a": ("s1", "MONOCHROME2", None, None),
    "img_b": ("s1", "MONOCHROME1", "053Y", None),
    "img_c": ("s2", "MONOCHROME2", None, (1000, 200)),
    "img_d": ("s2", "MONOCHROME2", None, None),
    "img_e": ("s3", "MONOCHROME2", None, None),
}
ANNOTATIONS = [
    ["s1", "se1", "img_a", "L", "CC", 20, 40, "BI-RADS 1", "DENSITY C", "training"],
    ["s1", "se1", "img_b", "L", "MLO", 20, 40, "BI-RADS 1", "DENSITY C", "training"],
    ["s2", "se2", "img_c", "R", "CC", 20, 40, "BI-RADS 4", "DENSITY B", "test"],
    ["s2", "se2", "img_d", "R", "MLO", 20, 40, "BI-RADS 7", "DENSITY B", "test"],  # the bad row
    ["s3", "se3", "img_e", "L", "CC", 20, 40, "BI-RADS 5", "DENSITY D", "test"],
]
METADATA = [
    ["img_a", "se1", "053Y", "SIEMENS"],
    ["img_b", "se1", "", "SIEMENS"],  # blank: the DICOM header's 053Y is used
    ["img_c", "se2", "", "IMS"],  # blank and no header either: null age
    ["img_d", "se2", "", "IMS"],
    ["img_e", "se3", "078Y", "IMS"],
]


def make_raw(root: Path, annotations=ANNOTATIONS, metadata=METADATA) -> Path:
    write_csv(root / "breast-level_annotations.csv", ANNOTATION_HEADER, annotations)
    write_csv(root / "finding_annotations.csv", ANNOTATION_HEADER[:3] + ["finding_categories"], [])
    if metadata is not None:
        write_csv(root / "metadata.csv", METADATA_HEADER, metadata)
    for image_id, (study_id, photometric, age, window) in DICOMS.items():
        write_dicom(
            root / "images" / study_id / f"{image_id}.dicom",
            BANDS,
            photometric,
            patient_age=age,
            window=window,
        )
    return root


def build(raw: Path, **options):
    spec = get_task("vindr_mammo")
    return spec.builder_class()(spec, raw, **{"image_size": 20, "validation_fraction": 0.0, **options})


def band_levels(image: dict) -> list[float]:
    array = pixels(image)
    assert array.shape == (10, 20)  # 20 x 40 DICOM resized so the longest side is 20
    return [float(array[:, column].mean()) for column in BAND_COLUMNS]


def test_rows_field_by_field_and_bad_row_skipped(tmp_path):
    skips = SkipReport()
    rows = list(build(make_raw(tmp_path)).examples(skip_bad=True, skips=skips))

    assert [row["id"] for row in rows] == ["img_a", "img_b", "img_c", "img_e"]
    expected = {
        "img_a": ("train", ["BI-RADS 1"], 53.0, "A3"),
        "img_b": ("train", ["BI-RADS 1"], 53.0, "A3"),
        "img_c": ("test", ["BI-RADS 4"], None, None),
        "img_e": ("test", ["BI-RADS 5"], 78.0, "A4"),
    }
    for row in rows:
        split, answer, age, age_group = expected[row["id"]]
        assert row["dataset"] == "vindr_mammo"
        assert row["split"] == split
        assert row["answer"] == answer
        assert row["choices"] == ["BI-RADS 1", "BI-RADS 2", "BI-RADS 3", "BI-RADS 4", "BI-RADS 5"]
        assert row["sex"] is None
        assert row["age"] == age
        assert row["age_group"] == age_group
        assert row["attributes"] == {}
        assert len(row["images"]) == 1
        assert row["images"][0]["path"] == f"{row['id']}.png"
    assert skips.total == 1
    assert list(skips.counts) == ["answer: unknown BI-RADS value"]
    assert "breast-level_annotations.csv, row 4, field 'answer'" in skips.examples[0]

    by_id = {row["id"]: row for row in rows}
    dark, middle, bright = band_levels(by_id["img_a"]["images"][0])  # MONOCHROME2: high values bright
    assert dark < 10 and 50 < middle < 70 and bright > 245
    dark, middle, bright = band_levels(by_id["img_b"]["images"][0])  # MONOCHROME1: inverted
    assert dark > 245 and 185 < middle < 205 and bright < 10
    low, centre, high = band_levels(by_id["img_c"]["images"][0])  # window 1000 +- 100: centre at mid-grey
    assert low < 10 and 110 < centre < 145 and high > 245


def test_bad_row_raises_naming_file_row_and_field(tmp_path):
    with pytest.raises(RowError) as caught:
        list(build(make_raw(tmp_path)).examples())
    assert str(caught.value).startswith("breast-level_annotations.csv, row 4, field 'answer': ")
    assert "'BI-RADS 7'" in str(caught.value)


def test_training_studies_split_by_study(tmp_path):
    rows = list(build(make_raw(tmp_path), validation_fraction=1.0).examples(skip_bad=True))
    assert {row["id"]: row["split"] for row in rows} == {
        "img_a": "validation",
        "img_b": "validation",
        "img_c": "test",
        "img_e": "test",
    }

    studies = [f"study{n}" for n in range(16)]
    annotations = [
        [study, "se", f"{study}_{view}", "L", view, 4, 4, "BI-RADS 2", "DENSITY A", "training"]
        for study in studies
        for view in ("CC", "MLO")
    ]
    raw = tmp_path / "many"
    write_csv(raw / "breast-level_annotations.csv", ANNOTATION_HEADER, annotations)
    for study, _, image_id, *_ in annotations:
        write_dicom(raw / "images" / study / f"{image_id}.dicom", np.full((4, 4), 7))
    splits: dict[str, set[str]] = {}
    for row in build(raw, validation_fraction=0.5).examples():
        splits.setdefault(row["id"].split("_")[0], set()).add(row["split"])
    assert all(len(found) == 1 for found in splits.values())  # both views of a study together
    assert set().union(*splits.values()) == {"train", "validation"}


def test_age_from_dicom_header_when_metadata_csv_is_absent(tmp_path):
    rows = list(build(make_raw(tmp_path, metadata=None)).examples(skip_bad=True))
    assert {row["id"]: row["age"] for row in rows} == {
        "img_a": None,
        "img_b": 53.0,
        "img_c": None,
        "img_e": None,
    }


def test_bad_age_in_metadata_names_the_age_field(tmp_path):
    metadata = [["img_a", "se1", "abc", "SIEMENS"]] + METADATA[1:]
    with pytest.raises(RowError) as caught:
        list(build(make_raw(tmp_path, metadata=metadata)).examples())
    assert str(caught.value).startswith("breast-level_annotations.csv, row 1, field 'age': ")


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_unreadable_or_missing_dicom_is_an_images_error(tmp_path, damage):
    raw = make_raw(tmp_path)
    dicom = raw / "images" / "s1" / "img_b.dicom"
    truncate(dicom, 0.3) if damage == "truncate" else dicom.unlink()
    with pytest.raises(RowError) as caught:
        list(build(raw).examples())
    assert str(caught.value).startswith("breast-level_annotations.csv, row 2, field 'images': ")
    assert "images/s1/img_b.dicom" in str(caught.value)


def test_missing_column_is_a_build_error_naming_it(tmp_path):
    annotations = [row[:7] + row[8:] for row in ANNOTATIONS]
    raw = make_raw(tmp_path)
    write_csv(
        raw / "breast-level_annotations.csv", ANNOTATION_HEADER[:7] + ANNOTATION_HEADER[8:], annotations
    )
    with pytest.raises(
        BuildError, match=r"breast-level_annotations.csv: missing column\(s\) \['breast_birads'\]"
    ):
        list(build(raw).examples())


def test_missing_metadata_column_is_a_build_error_naming_it(tmp_path):
    raw = make_raw(tmp_path)
    write_csv(raw / "metadata.csv", ["SOP Instance UID", "Manufacturer"], [["img_a", "SIEMENS"]])
    with pytest.raises(BuildError, match=r"metadata.csv: missing column\(s\) \[\"Patient's Age\"\]"):
        list(build(raw).examples())


def test_missing_pydicom_names_the_dicom_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pydicom", None)  # makes `import pydicom` raise ImportError
    with pytest.raises(BuildError, match=r"pip install 'clinfair\[dicom\]'"):
        build(make_raw_csv_only(tmp_path))


def make_raw_csv_only(root: Path) -> Path:
    write_csv(root / "breast-level_annotations.csv", ANNOTATION_HEADER, ANNOTATIONS)
    return root
