"""The CT-ICH builder on a tiny raw folder in the JPEG layout (PhysioNet 1.2.0 / Kaggle mirror)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clinfair.tasks import get_task
from clinfair.tasks.builders.base import BuildError, RowError, SkipReport, assign_split
from clinfair.tasks.prepare import load_prepared, prepare
from rawdata import decodes, truncate, write_csv, write_jpeg

RELEASE = "computed-tomography-images-for-intracranial-hemorrhage-detection-and-segmentation-1.2.0"
DIAGNOSIS_HEADER = [
    "PatientNumber",
    "SliceNumber",
    "Intraventricular",
    "Intraparenchymal",
    "Subarachnoid",
    "Epidural",
    "Subdural",
    "No_Hemorrhage",
    "Fracture_Yes_No",
]
DIAGNOSIS_ROWS = [
    [49, 1, 0, 0, 0, 0, 0, 1, 0],
    [49, 2, 0, 1, 0, 0, 1, 0, 1],
    [50, 1, 0, 0, 0, 0, 0, 1, 0],
    [51, 1, 1, 0, 0, 0, 0, 0, 0],
    [51, 2, 0, 0, 1, 0, 0, 0, 0],  # the bad row (data row 5): its bone-window JPEG is truncated
    [52, 1, 0, 0, 0, 0, 0, 1, 0],  # patient 52 is missing from the demographics table
]
# The real table writes the age header over two lines.
DEMOGRAPHICS_HEADER = ["Patient Number", "Age\n(years)", "Gender", "Note"]
DEMOGRAPHICS_ROWS = [[49, 35, "Male", ""], [50, "", "Female", ""], [51, 72, "", ""], ["", "", "", ""]]


def write_raw(
    folder: Path,
    diagnosis_rows=DIAGNOSIS_ROWS,
    demographics_rows=DEMOGRAPHICS_ROWS,
    diagnosis_name="hemorrhage_diagnosis.csv",
    diagnosis_header=DIAGNOSIS_HEADER,
) -> dict[str, bytes]:
    """Write the release into ``folder``; return each JPEG's bytes by '<patient>/<window>/<slice>'."""
    images = {}
    for shade, (patient, slice_number, *_flags) in enumerate(diagnosis_rows):
        for offset, window in enumerate(("brain", "bone")):
            key = f"{patient:03d}/{window}/{slice_number}"
            images[key] = write_jpeg(folder / "Patients_CT" / f"{key}.jpg", shade=20 * shade + offset)
    keep = [DIAGNOSIS_HEADER.index(name) for name in diagnosis_header]
    write_csv(folder / diagnosis_name, diagnosis_header, ([row[i] for i in keep] for row in diagnosis_rows))
    write_csv(folder / "patient_demographics.csv", DEMOGRAPHICS_HEADER, demographics_rows)
    return images


def build(raw: Path, skip_bad: bool = False) -> tuple[dict[str, dict], SkipReport]:
    spec = get_task("ct_hemorrhage")
    skips = SkipReport()
    rows = spec.builder_class()(spec, raw).examples(skip_bad=skip_bad, skips=skips)
    return {row["id"]: row for row in rows}, skips


def test_rows_field_by_field(tmp_path):
    images = write_raw(tmp_path / RELEASE)  # nested, as the Kaggle mirror unpacks
    truncate(tmp_path / RELEASE / "Patients_CT/051/bone/2.jpg")
    rows, skips = build(tmp_path, skip_bad=True)

    expected = {  # id: (patient, slice, answer, sex, age, age_group)
        "patient049_slice1": ("049", 1, "no", "M", 35.0, "A2"),
        "patient049_slice2": ("049", 2, "yes", "M", 35.0, "A2"),
        "patient050_slice1": ("050", 1, "no", "F", None, None),
        "patient051_slice1": ("051", 1, "yes", None, 72.0, "A3"),
        "patient052_slice1": ("052", 1, "no", None, None, None),
    }
    assert set(rows) == set(expected)
    spec = get_task("ct_hemorrhage")
    for row_id, (patient, slice_number, answer, sex, age, group) in expected.items():
        row = rows[row_id]
        assert row["dataset"] == "ct_hemorrhage"
        assert row["question"] == spec.question and row["choices"] == ["yes", "no"]
        assert row["answer"] == [answer]
        assert (row["sex"], row["age"], row["age_group"]) == (sex, age, group)
        assert row["attributes"] == {}
        assert row["split"] == assign_split(patient)  # the patient decides the split
        brain, bone = row["images"]
        assert brain["bytes"] == images[f"{patient}/brain/{slice_number}"]
        assert bone["bytes"] == images[f"{patient}/bone/{slice_number}"]
        assert decodes(brain) and decodes(bone)
    assert skips.total == 1 and list(skips.counts) == ["images: unreadable image"]


def test_truncated_image_names_file_row_and_field(tmp_path):
    write_raw(tmp_path)
    truncate(tmp_path / "Patients_CT/051/bone/2.jpg")
    with pytest.raises(RowError) as raised:
        build(tmp_path)
    error = raised.value
    assert (error.file, error.row, error.field) == ("hemorrhage_diagnosis.csv", 5, "images")
    assert str(error).startswith("hemorrhage_diagnosis.csv, row 5, field 'images'")
    assert "051/bone/2.jpg" in str(error)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ([0, 0, 0, 0, 0, 0], "contradictory flags"),  # no type flagged and No_Hemorrhage 0
        ([0, 1, 0, 0, 0, 1], "contradictory flags"),  # a type flagged and No_Hemorrhage 1
        ([0, 0, 0, 0, 0, "yes"], "unrecognised flag 'yes' in column 'No_Hemorrhage'"),
    ],
)
def test_bad_labels_are_answer_errors(tmp_path, flags, message):
    write_raw(tmp_path, diagnosis_rows=[DIAGNOSIS_ROWS[0], [50, 1, *flags, 0]])
    with pytest.raises(RowError, match=message) as raised:
        build(tmp_path)
    assert (raised.value.row, raised.value.field) == (2, "answer")


def test_bad_age_points_at_the_demographics_table(tmp_path):
    write_raw(tmp_path, demographics_rows=[[49, 35, "Male", ""], [50, "abc", "Female", ""]])
    with pytest.raises(RowError) as raised:
        build(tmp_path)
    error = raised.value
    assert (error.file, error.row, error.field) == ("patient_demographics.csv", 2, "age")
    assert "'abc'" in error.message and "patient 50, slice 1" in error.message


def test_raw_ct_label_file_is_accepted(tmp_path):
    write_raw(tmp_path, diagnosis_rows=DIAGNOSIS_ROWS[:2], diagnosis_name="hemorrhage_diagnosis_raw_ct.csv")
    rows, _ = build(tmp_path)
    assert {row_id: row["answer"] for row_id, row in rows.items()} == {
        "patient049_slice1": ["no"],
        "patient049_slice2": ["yes"],
    }


def test_missing_columns_are_build_errors(tmp_path):
    write_raw(tmp_path, diagnosis_header=[h for h in DIAGNOSIS_HEADER if h != "No_Hemorrhage"])
    with pytest.raises(
        BuildError, match=r"hemorrhage_diagnosis\.csv: missing column\(s\) \['No_Hemorrhage'\]"
    ):
        build(tmp_path)
    write_csv(tmp_path / "patient_demographics.csv", ["Patient Number", "Age\n(years)"], [[49, 35]])
    with pytest.raises(BuildError, match=r"patient_demographics\.csv: missing column\(s\) \['gender'\]"):
        build(tmp_path)


def test_nifti_release_is_refused_with_a_clear_message(tmp_path):
    (tmp_path / "ct_scans").mkdir()
    (tmp_path / "ct_scans" / "049.nii").write_bytes(b"")
    with pytest.raises(BuildError, match="NIfTI"):
        build(tmp_path)


def test_prepare_writes_two_images_per_row(tmp_path):
    write_raw(tmp_path / "raw", diagnosis_rows=DIAGNOSIS_ROWS[:4])
    summary = prepare(get_task("ct_hemorrhage"), tmp_path / "out", tmp_path / "raw", progress=False)
    assert summary.rows == 4 and summary.nulls == {"sex": 1, "age": 1}
    dataset = load_prepared(tmp_path / "out")
    assert {len(row["images"]) for split in dataset for row in dataset[split]} == {2}


def test_patient_listed_twice_in_demographics_is_a_build_error(tmp_path):
    write_raw(tmp_path, demographics_rows=[[49, 35, "Male", ""], [49, 36, "Male", ""]])
    with pytest.raises(
        BuildError, match=r"patient_demographics\.csv, row 2: patient 49 is already listed in row 1"
    ):
        build(tmp_path)
