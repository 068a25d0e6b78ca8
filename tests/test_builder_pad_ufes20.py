"""PAD-UFES-20 builder on a tiny raw folder in the Mendeley layout (real PNG files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clinfair.tasks import get_task
from clinfair.tasks.builders.base import BuildError, RowError, SkipReport
from clinfair.tasks.prepare import load_prepared, prepare
from rawdata import decodes, truncate, write_csv, write_png

HEADER = [
    "patient_id",
    "lesion_id",
    "smoke",
    "drink",
    "background_father",
    "background_mother",
    "age",
    "pesticide",
    "gender",
    "skin_cancer_history",
    "cancer_history",
    "has_piped_water",
    "has_sewage_system",
    "fitspatrick",
    "region",
    "diameter_1",
    "diameter_2",
    "diagnostic",
    "itch",
    "grew",
    "hurt",
    "changed",
    "bleed",
    "elevation",
    "img_id",
    "biopsed",
]
LESION = ["True", "True", "False", "True", "True", "True"]  # itch .. elevation


def row(patient, lesion, age, gender, fitzpatrick, diagnostic, img_id, full=True) -> list[str]:
    """A metadata.csv row; ``full=False`` leaves the lifestyle/demographic columns blank, as the
    source does for many patients (then gender and fitspatrick are blank too)."""
    habits = ["False", "False", "POMERANIA", "POMERANIA"] if full else ["", "", "", ""]
    history = (
        ["False", gender, "True", "True", "True", "True", fitzpatrick]
        if full
        else ["", "", "", "", "", "", ""]
    )
    diameters = ["6.0", "5.0"] if full else ["", ""]
    return [patient, lesion, *habits, age, *history, "NECK", *diameters, diagnostic, *LESION, img_id, "True"]


ROWS = [
    row("PAT_46", "881", "55", "FEMALE", "3.0", "BCC", "PAT_46_881_939.png"),
    row("PAT_1516", "1765", "8", "", "", "NEV", "PAT_1516_1765_530.png", full=False),
    row("PAT_1545", "1867", "77", "", "", "ACK", "PAT_1545_1867_547.png", full=False),
    row("PAT_9", "10", "70", "MALE", "6.0", "SCC", "PAT_9_10_111"),  # img_id without extension
    row("PAT_20", "30", "25", "MALE", "1.0", "SEK", "PAT_20_30_222.png"),
    row("PAT_21", "31", "50", "FEMALE", "2.0", "MEL", "PAT_21_31_333.png"),
    row("PAT_22", "32", "40", "FEMALE", "4.0", "XYZ", "PAT_22_32_444.png"),  # the bad row: unknown label
    row("PAT_46", "883", "55", "FEMALE", "3.0", "NEV", "PAT_46_883_555.png"),
]
# Where the unpacked archives put each image (one level of nesting per archive).
IMAGE_FOLDERS = {
    "PAT_46_881_939": "imgs_part_1/imgs_part_1",
    "PAT_1516_1765_530": "imgs_part_3/imgs_part_3",
    "PAT_1545_1867_547": "imgs_part_3/imgs_part_3",
    "PAT_9_10_111": "imgs_part_2/imgs_part_2",
    "PAT_20_30_222": "imgs_part_1/imgs_part_1",
    "PAT_21_31_333": "imgs_part_1/imgs_part_1",
    "PAT_22_32_444": "imgs_part_2/imgs_part_2",
    "PAT_46_883_555": "imgs_part_1/imgs_part_1",
}
# id -> (answer, sex, age, age_group, fitzpatrick), written from ROWS by hand
EXPECTED = {
    "PAT_46_881_939": ("basal cell carcinoma", "F", 55.0, "A3", "3"),
    "PAT_1516_1765_530": ("nevus", None, 8.0, "A1", None),
    "PAT_1545_1867_547": ("actinic keratosis", None, 77.0, "A4", None),
    "PAT_9_10_111": ("actinic keratosis", "M", 70.0, "A3", "6"),
    "PAT_20_30_222": ("other", "M", 25.0, "A1", "1"),
    "PAT_21_31_333": ("melanoma", "F", 50.0, "A2", "2"),
    "PAT_46_883_555": ("nevus", "F", 55.0, "A3", "3"),
}


def make_raw(root: Path, rows=ROWS, header=HEADER) -> tuple[Path, dict[str, bytes]]:
    write_csv(root / "metadata.csv", header, rows)
    written = {}
    for shade, (name, folder) in enumerate(IMAGE_FOLDERS.items()):
        written[name] = write_png(root / "images" / folder / f"{name}.png", shade=20 * shade)
    return root, written


def build(raw: Path, **options):
    spec = get_task("pad_ufes20")
    return spec.builder_class()(spec, raw, **options)


def test_rows_field_by_field_and_bad_row_skipped(tmp_path):
    raw, written = make_raw(tmp_path)
    skips = SkipReport()
    rows = list(build(raw).examples(skip_bad=True, skips=skips))

    assert [r["id"] for r in rows] == list(EXPECTED)
    for r in rows:
        answer, sex, age, age_group, fitzpatrick = EXPECTED[r["id"]]
        assert r["dataset"] == "pad_ufes20"
        assert r["split"] in ("train", "validation", "test")
        assert r["answer"] == [answer]
        assert r["sex"] == sex
        assert r["age"] == age
        assert r["age_group"] == age_group
        assert r["attributes"] == {"fitzpatrick": fitzpatrick}
        assert len(r["images"]) == 1
        assert r["images"][0]["bytes"] == written[r["id"]]  # the file of this row, unchanged
        assert decodes(r["images"][0])
    assert skips.total == 1
    assert list(skips.counts) == ["answer: unknown diagnostic"]
    assert "metadata.csv, row 7, field 'answer'" in skips.examples[0]


def test_bad_row_raises_naming_file_row_and_field(tmp_path):
    raw, _ = make_raw(tmp_path)
    with pytest.raises(RowError) as caught:
        list(build(raw).examples())
    assert str(caught.value).startswith("metadata.csv, row 7, field 'answer': unknown diagnostic 'XYZ'")


def test_split_by_patient(tmp_path):
    raw, _ = make_raw(tmp_path)
    rows = list(build(raw).examples(skip_bad=True))
    assert rows[0]["split"] == rows[-1]["split"]  # both lesions of PAT_46
    everything_test = {"train": 0.0, "validation": 0.0, "test": 1.0}
    rows = list(build(raw, split_fractions=everything_test).examples(skip_bad=True))
    assert {r["split"] for r in rows} == {"test"}


@pytest.mark.parametrize(
    ("column", "value", "field", "message"),
    [
        ("fitspatrick", "7.0", "fitzpatrick", "Fitzpatrick skin type '7.0' is not one of 1..6"),
        ("fitspatrick", "pale", "fitzpatrick", "Fitzpatrick skin type 'pale' is not one of 1..6"),
        ("age", "abc", "age", "unrecognised age value 'abc'"),
        ("gender", "robot", "sex", "unrecognised sex value 'robot'"),
        ("img_id", "PAT_0_0_0.png", "images", "image PAT_0_0_0.png not found"),
    ],
)
def test_bad_values_name_file_row_and_field(tmp_path, column, value, field, message):
    rows = [list(r) for r in ROWS[:2]]
    rows[1][HEADER.index(column)] = value
    raw, _ = make_raw(tmp_path, rows)
    with pytest.raises(RowError) as caught:
        list(build(raw).examples())
    assert str(caught.value).startswith(f"metadata.csv, row 2, field '{field}': {message}")


def test_truncated_image_is_an_images_error(tmp_path):
    raw, _ = make_raw(tmp_path, ROWS[:2])
    truncate(raw / "images/imgs_part_3/imgs_part_3/PAT_1516_1765_530.png")
    with pytest.raises(RowError, match=r"^metadata.csv, row 2, field 'images': unreadable image"):
        list(build(raw).examples())


def test_missing_column_is_a_build_error_naming_it(tmp_path):
    drop = HEADER.index("fitspatrick")
    raw, _ = make_raw(tmp_path, [r[:drop] + r[drop + 1 :] for r in ROWS], HEADER[:drop] + HEADER[drop + 1 :])
    with pytest.raises(BuildError, match=r"^metadata.csv: missing column\(s\) \['fitspatrick'\]"):
        list(build(raw).examples())


def test_prepare_writes_the_dataset_with_its_summary(tmp_path):
    raw, _ = make_raw(tmp_path / "raw")
    summary = prepare(get_task("pad_ufes20"), tmp_path / "out", raw, skip_bad=True, progress=False)
    assert summary.rows == 7
    assert summary.skipped == 1
    assert summary.nulls == {"sex": 2, "age": 0, "fitzpatrick": 2}
    dataset = load_prepared(tmp_path / "out")
    stored = {r["id"]: r for split in dataset.values() for r in split}
    assert stored["PAT_9_10_111"]["attributes"] == {"fitzpatrick": "6"}
    assert stored["PAT_1516_1765_530"]["attributes"] == {"fitzpatrick": None}
    assert stored["PAT_1516_1765_530"]["sex"] is None
