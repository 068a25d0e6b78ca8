"""COVID-BLUES builder on a tiny clone of its repository (real MP4 videos written with PyAV)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from clinfair.tasks import get_task
from clinfair.tasks.builders.base import BuildError, RowError, SkipReport
from clinfair.tasks.prepare import load_prepared, prepare
from rawdata import decodes, pixels, write_csv, write_video

# A few of the ~140 columns of clinical_variables.csv, in the source's order.
HEADER = [
    "patient_id",
    "cov_test",
    "number_video_files",
    "pat_weight",
    "pat_sex",
    "pat_height",
    "pat_bmi",
    "pat_age",
    "respiratory_rate",
]
ROWS = [
    ["37", "0", "2.0", "83.0", "0.0", "165.0", "30.49", "87.0", "12.0"],
    ["46", "1", "2.0", "77.0", "1.0", "170.0", "26.64", "78.0", "15.0"],
    ["50", "1", "1.0", "63.0", "", "-99.0", "", "-99", "20.0"],  # sex blank, age not recorded (-99)
    ["9", "0", "1.0", "86.6", "1.0", "158.0", "34.69", "25.0", "34.0"],  # its video is the bad one
]
SHADES = [0, 30, 60, 90, 120, 150, 180]  # seven frames; 4 sampled evenly: frames 0, 2, 4, 6
VIDEOS = [
    "patient_37_L1.mp4",
    "patient_37_R2.mp4",
    "patient_46_L1.mp4",
    "patient_46_L1_2.mp4",
    "patient_50_R3.mp4",
]
# id -> (answer, sex, age, age_group), written from ROWS by hand
EXPECTED = {
    "patient_37_L1": ("no", "F", 87.0, "A4"),
    "patient_37_R2": ("no", "F", 87.0, "A4"),
    "patient_46_L1": ("yes", "M", 78.0, "A4"),
    "patient_46_L1_2": ("yes", "M", 78.0, "A4"),
    "patient_50_R3": ("yes", None, None, None),
}


def make_raw(root: Path, rows=ROWS, header=HEADER) -> Path:
    write_csv(root / "clinical_variables.csv", header, rows)
    write_csv(root / "severity.csv", ["video_file", "Severity Score", "A-lines", "B-lines", "comments"], [])
    for name in VIDEOS:
        write_video(root / "lus_videos" / name, SHADES)
    (root / "lus_videos" / "patient_9_L2.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    return root


def build(raw: Path, **options):
    spec = get_task("covid_blues")
    return spec.builder_class()(spec, raw, **options)


def test_rows_field_by_field_and_bad_row_skipped(tmp_path):
    skips = SkipReport()
    rows = list(build(make_raw(tmp_path)).examples(skip_bad=True, skips=skips))

    assert [row["id"] for row in rows] == list(EXPECTED)
    for row in rows:
        answer, sex, age, age_group = EXPECTED[row["id"]]
        assert row["dataset"] == "covid_blues"
        assert row["split"] in ("train", "validation", "test")
        assert row["choices"] == ["yes", "no"]
        assert row["answer"] == [answer]
        assert row["sex"] == sex
        assert row["age"] == age
        assert row["age_group"] == age_group
        assert row["attributes"] == {}
        assert [image["path"] for image in row["images"]] == [f"{row['id']}_{i}.png" for i in range(4)]
        assert all(decodes(image) for image in row["images"])
        frames = [pixels(image) for image in row["images"]]
        assert all(frame.shape == (32, 32, 3) for frame in frames)
        for frame, shade in zip(frames, [0, 60, 120, 180]):
            assert abs(float(frame.mean()) - shade) < 6
    assert skips.total == 1
    assert list(skips.counts) == ["images: cannot decode video lus_videos/patient_9_L2.mp4"]
    assert "clinical_variables.csv, row 4, field 'images'" in skips.examples[0]


def test_bad_row_raises_naming_file_row_field_and_video(tmp_path):
    with pytest.raises(RowError) as caught:
        list(build(make_raw(tmp_path)).examples())
    assert str(caught.value).startswith(
        "clinical_variables.csv, row 4, field 'images': cannot decode video lus_videos/patient_9_L2.mp4: "
    )


def test_one_patient_one_split(tmp_path):
    raw = make_raw(tmp_path)
    rows = list(build(raw).examples(skip_bad=True))
    splits = {row["id"]: row["split"] for row in rows}
    assert splits["patient_37_L1"] == splits["patient_37_R2"]
    assert splits["patient_46_L1"] == splits["patient_46_L1_2"]
    everything_validation = {"train": 0.0, "validation": 1.0, "test": 0.0}
    rows = list(build(raw, split_fractions=everything_validation).examples(skip_bad=True))
    assert {row["split"] for row in rows} == {"validation"}


def test_one_frame_is_the_first(tmp_path):
    rows = list(build(make_raw(tmp_path), frames=1).examples(skip_bad=True))
    assert all(len(row["images"]) == 1 and float(pixels(row["images"][0]).mean()) < 6 for row in rows)


def test_video_with_too_few_frames_is_not_padded(tmp_path):
    raw = make_raw(tmp_path, ROWS[:1])
    write_video(raw / "lus_videos" / "patient_37_R2.mp4", [0, 90])
    with pytest.raises(RowError) as caught:
        list(build(raw).examples())
    assert str(caught.value) == (
        "clinical_variables.csv, row 1, field 'images': "
        "video lus_videos/patient_37_R2.mp4 has 2 decodable frames, fewer than the 4 requested"
    )


def test_patient_without_video_and_video_without_patient_are_reported(tmp_path):
    raw = make_raw(tmp_path, ROWS[:1] + [["63", "1", "5.0", "91.0", "1.0", "170.0", "31.49", "78.0", "32.0"]])
    write_video(raw / "lus_videos" / "sample_video.mp4", SHADES)
    skips = SkipReport()
    rows = list(build(raw).examples(skip_bad=True, skips=skips))
    assert [row["id"] for row in rows] == ["patient_37_L1", "patient_37_R2"]
    assert skips.examples == [
        "clinical_variables.csv, row 2, field 'images': no video of patient 63 in lus_videos/",
        "lus_videos/patient_46_L1.mp4, row -, field 'answer': patient 46 has no row in clinical_variables.csv",
        "lus_videos/patient_46_L1_2.mp4, row -, field 'answer': patient 46 has no row in clinical_variables.csv",
        "lus_videos/patient_50_R3.mp4, row -, field 'answer': patient 50 has no row in clinical_variables.csv",
        "lus_videos/patient_9_L2.mp4, row -, field 'answer': patient 9 has no row in clinical_variables.csv",
        "lus_videos/sample_video.mp4, row -, field 'images': "
        "video name sample_video.mp4 does not follow patient_<ID>_<POINT>.mp4",
    ]


@pytest.mark.parametrize(
    ("column", "value", "field", "message"),
    [
        ("cov_test", "2", "answer", "unknown cov_test value '2'; expected 1 or 0"),
        ("pat_sex", "3.0", "sex", "unknown pat_sex value '3.0'; expected 0 or 1"),
        ("pat_age", "abc", "age", "unrecognised age value 'abc'"),
    ],
)
def test_bad_values_name_file_row_and_field(tmp_path, column, value, field, message):
    rows = [list(row) for row in ROWS[:2]]
    rows[1][HEADER.index(column)] = value
    with pytest.raises(RowError) as caught:
        list(build(make_raw(tmp_path, rows)).examples())
    assert str(caught.value) == f"clinical_variables.csv, row 2, field '{field}': {message}"


def test_missing_column_is_a_build_error_naming_it(tmp_path):
    drop = HEADER.index("pat_age")
    raw = make_raw(
        tmp_path, [row[:drop] + row[drop + 1 :] for row in ROWS], HEADER[:drop] + HEADER[drop + 1 :]
    )
    with pytest.raises(BuildError, match=r"^clinical_variables.csv: missing column\(s\) \['pat_age'\]"):
        list(build(raw).examples())


def test_missing_pyav_names_the_video_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` raise ImportError
    with pytest.raises(BuildError, match=r"pip install 'clinfair\[video\]'"):
        build(tmp_path)


def test_prepare_writes_multi_image_rows(tmp_path):
    raw = make_raw(tmp_path / "raw")
    summary = prepare(
        get_task("covid_blues"), tmp_path / "out", raw, skip_bad=True, options={"frames": 2}, progress=False
    )
    assert summary.rows == 5
    assert summary.skipped == 1
    assert summary.nulls == {"sex": 1, "age": 1}
    stored = {row["id"]: row for split in load_prepared(tmp_path / "out").values() for row in split}
    assert len(stored["patient_46_L1_2"]["images"]) == 2
    assert stored["patient_46_L1_2"]["images"][1].size == (32, 32)
