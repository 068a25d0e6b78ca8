"""The HAM10000 builder on a tiny raw folder in the official layouts (Dataverse and Kaggle)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clinfair.tasks import get_task
from clinfair.tasks.builders.base import BuildError, RowError, SkipReport, assign_split
from rawdata import decodes, write_csv, write_jpeg

HEADER = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
ROWS = [
    ["HAM_0000001", "ISIC_0000101", "bkl", "histo", "80.0", "male", "scalp"],
    ["HAM_0000001", "ISIC_0000102", "bkl", "histo", "80.0", "male", "scalp"],
    ["HAM_0000002", "ISIC_0000103", "mel", "histo", "", "unknown", "face"],
    ["HAM_0000003", "ISIC_0000104", "nv", "follow_up", "25.0", "female", "back"],
    ["HAM_0000004", "ISIC_0000105", "akiec", "histo", "60.0", "female", "face"],
    ["HAM_0000005", "ISIC_0000106", "bcc", "histo", "50.0", "male", "back"],
    ["HAM_0000006", "ISIC_0000107", "df", "consensus", "35.0", "female", "lower extremity"],
    ["HAM_0000007", "ISIC_0000108", "vasc", "consensus", "0.0", "", "trunk"],
    ["HAM_0000008", "ISIC_0000109", "xyz", "histo", "40.0", "male", "back"],  # the bad row (9): unknown dx
]
# id: (lesion, answer, sex, age, age_group), written by hand from ROWS
EXPECTED = {
    "ISIC_0000101": ("HAM_0000001", "other", "M", 80.0, "A4"),
    "ISIC_0000102": ("HAM_0000001", "other", "M", 80.0, "A4"),
    "ISIC_0000103": ("HAM_0000002", "melanoma", None, None, None),
    "ISIC_0000104": ("HAM_0000003", "nevus", "F", 25.0, "A1"),
    "ISIC_0000105": ("HAM_0000004", "actinic keratosis", "F", 60.0, "A3"),
    "ISIC_0000106": ("HAM_0000005", "basal cell carcinoma", "M", 50.0, "A2"),
    "ISIC_0000107": ("HAM_0000006", "other", "F", 35.0, "A2"),
    "ISIC_0000108": ("HAM_0000007", "other", None, 0.0, "A1"),
}


def write_raw(
    root: Path, metadata_name: str, image_folders: tuple[str, ...], header=HEADER
) -> dict[str, bytes]:
    """Write the metadata table and spread the JPEGs over ``image_folders``; return bytes by image id."""
    keep = [HEADER.index(name) for name in header]
    write_csv(root / metadata_name, header, ([row[i] for i in keep] for row in ROWS))
    return {
        row[1]: write_jpeg(root / image_folders[n % len(image_folders)] / f"{row[1]}.jpg", shade=25 * n)
        for n, row in enumerate(ROWS)
    }


def build(raw: Path, skip_bad: bool = False) -> tuple[dict[str, dict], SkipReport]:
    spec = get_task("ham10000")
    skips = SkipReport()
    rows = spec.builder_class()(spec, raw).examples(skip_bad=skip_bad, skips=skips)
    return {row["id"]: row for row in rows}, skips


@pytest.mark.parametrize(
    ("metadata_name", "image_folders"),
    [
        ("HAM10000_metadata.csv", ("HAM10000_images_part_1", "HAM10000_images_part_2")),  # Kaggle
        ("HAM10000_metadata", (".",)),  # Dataverse: the zips unpacked into the raw folder
        ("HAM10000_metadata", ("HAM10000_images",)),
    ],
)
def test_rows_field_by_field(tmp_path, metadata_name, image_folders):
    images = write_raw(tmp_path, metadata_name, image_folders)
    rows, skips = build(tmp_path, skip_bad=True)

    assert set(rows) == set(EXPECTED)
    spec = get_task("ham10000")
    for image_id, (lesion, answer, sex, age, group) in EXPECTED.items():
        row = rows[image_id]
        assert row["dataset"] == "ham10000"
        assert row["question"] == spec.question and row["choices"] == list(spec.choices)
        assert row["answer"] == [answer]
        assert (row["sex"], row["age"], row["age_group"]) == (sex, age, group)
        assert row["attributes"] == {}
        assert row["split"] == assign_split(lesion)  # the lesion, not the image, decides the split
        assert len(row["images"]) == 1 and row["images"][0]["bytes"] == images[image_id]
        assert decodes(row["images"][0])
    assert skips.counts == {"answer: unknown dx value": 1}


def test_unknown_dx_names_file_row_and_field(tmp_path):
    write_raw(tmp_path, "HAM10000_metadata.csv", ("HAM10000_images_part_1",))
    with pytest.raises(RowError) as raised:
        build(tmp_path)
    error = raised.value
    assert (error.file, error.row, error.field) == ("HAM10000_metadata.csv", 9, "answer")
    assert str(error).startswith("HAM10000_metadata.csv, row 9, field 'answer'") and "'xyz'" in str(error)


def test_missing_image_is_an_image_error(tmp_path):
    write_raw(tmp_path, "HAM10000_metadata.csv", ("HAM10000_images_part_1", "HAM10000_images_part_2"))
    (tmp_path / "HAM10000_images_part_2/ISIC_0000102.jpg").unlink()
    rows, skips = build(tmp_path, skip_bad=True)
    assert "ISIC_0000102" not in rows and len(rows) == len(EXPECTED) - 1
    assert skips.counts == {"images: image file not found": 1, "answer: unknown dx value": 1}
    assert "'ISIC_0000102.jpg'" in skips.examples[0] and "HAM10000_images_part_2" in skips.examples[0]


def test_missing_column_and_missing_table_are_build_errors(tmp_path):
    with pytest.raises(BuildError, match="HAM10000_metadata"):
        build(tmp_path)
    write_raw(
        tmp_path,
        "HAM10000_metadata.csv",
        ("HAM10000_images_part_1",),
        header=[h for h in HEADER if h != "dx"],
    )
    with pytest.raises(BuildError, match=r"HAM10000_metadata\.csv: missing column\(s\) \['dx'\]"):
        build(tmp_path)
