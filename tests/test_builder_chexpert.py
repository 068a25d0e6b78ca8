"""The CheXpert builder on a tiny raw folder in the official CheXpert-v1.0-small layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from clinfair.tasks import get_task
from clinfair.tasks.builders.base import BuildError, RowError, SkipReport
from rawdata import decodes, write_csv, write_jpeg

RELEASE = "CheXpert-v1.0-small"
OBSERVATIONS = [
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
]
HEADER = ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", *OBSERVATIONS]

# (image path as written in the CSV, Sex, Age, Frontal/Lateral, {observation: value})
TRAIN_ROWS = [
    (
        "train/patient00001/study1/view1_frontal.jpg",
        "Female",
        "68",
        "Frontal",
        {"No Finding": "1.0", "Support Devices": "1.0"},
    ),
    (
        "train/patient00002/study2/view1_frontal.jpg",
        "Male",
        "45",
        "Frontal",
        {"Cardiomegaly": "-1.0", "Lung Opacity": "1.0", "Edema": "-1.0", "Pleural Effusion": "0.0"},
    ),
    ("train/patient00002/study1/view2_lateral.jpg", "Male", "44", "Lateral", {"Lung Opacity": "1.0"}),
    (
        "train/patient00003/study1/view1_frontal.jpg",
        "Unknown",
        "",
        "Frontal",
        {"Pneumothorax": "1.0", "Fracture": "1.0", "Edema": "0.0"},
    ),
    # the bad row (data row 5): a label value outside 1.0 / 0.0 / -1.0 / blank
    ("train/patient00004/study1/view1_frontal.jpg", "Female", "30", "Frontal", {"Edema": "2.0"}),
]
VALID_ROWS = [
    (
        "valid/patient64541/study1/view1_frontal.jpg",
        "Male",
        "73",
        "Frontal",
        {**dict.fromkeys(OBSERVATIONS, "0.0"), "Cardiomegaly": "1.0", "Pleural Effusion": "1.0"},
    ),
]


def csv_row(path: str, sex: str, age: str, view: str, labels: dict[str, str]) -> list[str]:
    return [
        f"{RELEASE}/{path}",
        sex,
        age,
        view,
        "AP" if view == "Frontal" else "",
        *(labels.get(o, "") for o in OBSERVATIONS),
    ]


def write_raw(root: Path, train_rows=TRAIN_ROWS, header=HEADER) -> dict[str, bytes]:
    """Write the release folder under ``root``; return each image's bytes by its id."""
    folder = root / RELEASE
    images = {}
    for shade, (path, *_rest) in enumerate([*train_rows, *VALID_ROWS]):
        images[path.removesuffix(".jpg")] = write_jpeg(folder / path, shade=20 * shade)
    keep = [HEADER.index(name) for name in header]
    write_csv(folder / "train.csv", header, ([csv_row(*r)[i] for i in keep] for r in train_rows))
    write_csv(folder / "valid.csv", HEADER, (csv_row(*r) for r in VALID_ROWS))
    return images


def build(raw: Path, skip_bad: bool = False, **options) -> tuple[dict[str, dict], SkipReport]:
    spec = get_task("chexpert")
    skips = SkipReport()
    rows = spec.builder_class()(spec, raw, **options).examples(skip_bad=skip_bad, skips=skips)
    return {row["id"]: row for row in rows}, skips


@pytest.mark.parametrize("point_at_release_folder", [False, True])
def test_rows_field_by_field(tmp_path, point_at_release_folder):
    images = write_raw(tmp_path)
    raw = tmp_path / RELEASE if point_at_release_folder else tmp_path
    rows, skips = build(raw, skip_bad=True)

    expected = {  # id: (answer, sex, age, age_group); lateral view and bad row left out
        "train/patient00001/study1/view1_frontal": (["No Finding", "Support Devices"], "F", 68.0, "A3"),
        "train/patient00002/study2/view1_frontal": (["Lung Opacity"], "M", 45.0, "A2"),
        "train/patient00003/study1/view1_frontal": (["Pneumothorax", "Fracture"], None, None, None),
        "valid/patient64541/study1/view1_frontal": (["Cardiomegaly", "Pleural Effusion"], "M", 73.0, "A3"),
    }
    assert set(rows) == set(expected)
    spec = get_task("chexpert")
    for row_id, (answer, sex, age, group) in expected.items():
        row = rows[row_id]
        assert row["dataset"] == "chexpert"
        assert row["question"] == spec.question and row["choices"] == list(spec.choices)
        assert row["answer"] == answer
        assert (row["sex"], row["age"], row["age_group"]) == (sex, age, group)
        assert row["attributes"] == {}
        assert len(row["images"]) == 1
        assert row["images"][0]["bytes"] == images[row_id]
        assert decodes(row["images"][0])
    assert rows["valid/patient64541/study1/view1_frontal"]["split"] == "validation"
    assert {rows[i]["split"] for i in expected if i.startswith("train/")} <= {"train", "test"}
    assert skips.total == 1
    assert skips.counts == {"answer: unrecognised label value": 1}


def test_bad_label_value_names_file_row_and_field(tmp_path):
    write_raw(tmp_path)
    with pytest.raises(RowError) as raised:
        build(tmp_path)
    error = raised.value
    assert (error.file, error.row, error.field) == (f"{RELEASE}/train.csv", 5, "answer")
    assert str(error).startswith(f"{RELEASE}/train.csv, row 5, field 'answer'")
    assert "'2.0'" in str(error) and "'Edema'" in str(error)


def test_lateral_views_kept_when_frontal_only_is_off(tmp_path):
    write_raw(tmp_path)
    rows, _ = build(tmp_path, skip_bad=True, frontal_only=False)
    lateral = rows["train/patient00002/study1/view2_lateral"]
    assert (lateral["answer"], lateral["age"]) == (["Lung Opacity"], 44.0)
    # one patient, one split
    assert lateral["split"] == rows["train/patient00002/study2/view1_frontal"]["split"]


@pytest.mark.parametrize(
    ("policy", "answer"),
    [
        ("zeros", ["Lung Opacity"]),
        ("ones", ["Cardiomegaly", "Lung Opacity", "Edema"]),
        ("ignore", None),  # the image has uncertain labels: left out
    ],
)
def test_uncertain_policies(tmp_path, policy, answer):
    write_raw(tmp_path)
    rows, skips = build(tmp_path, skip_bad=True, uncertain_policy=policy)
    row = rows.get("train/patient00002/study2/view1_frontal")
    assert (row["answer"] if row else None) == answer
    # images without uncertain labels are the same under every policy
    assert rows["train/patient00003/study1/view1_frontal"]["answer"] == ["Pneumothorax", "Fracture"]
    assert skips.total == 1


def test_image_with_no_positive_observation(tmp_path):
    only_uncertain = (
        "train/patient00005/study1/view1_frontal.jpg",
        "Male",
        "50",
        "Frontal",
        {"Atelectasis": "-1.0"},
    )
    write_raw(tmp_path, train_rows=[TRAIN_ROWS[0], only_uncertain])
    with pytest.raises(RowError) as raised:
        build(tmp_path)  # zeros: nothing is positive and No Finding is not 1.0
    assert (raised.value.row, raised.value.field) == (2, "answer")
    assert "no positive observation" in str(raised.value)
    rows, _ = build(tmp_path, uncertain_policy="ones")
    assert rows["train/patient00005/study1/view1_frontal"]["answer"] == ["Atelectasis"]


def test_truncated_image_is_a_field_error(tmp_path):
    write_raw(tmp_path, train_rows=TRAIN_ROWS[:1])
    image = tmp_path / RELEASE / "train/patient00001/study1/view1_frontal.jpg"
    image.write_bytes(image.read_bytes()[:100])
    with pytest.raises(RowError) as raised:
        build(tmp_path)
    assert (raised.value.file, raised.value.row, raised.value.field) == (f"{RELEASE}/train.csv", 1, "images")


def test_missing_column_is_a_build_error(tmp_path):
    write_raw(tmp_path, train_rows=TRAIN_ROWS[:2], header=[h for h in HEADER if h != "Age"])
    with pytest.raises(BuildError, match=r"train\.csv: missing column\(s\) \['Age'\]"):
        build(tmp_path)


def test_missing_files_and_bad_options(tmp_path):
    with pytest.raises(BuildError, match="train.csv"):
        build(tmp_path)
    write_raw(tmp_path)
    with pytest.raises(BuildError, match="uncertain_policy 'maybe'"):
        build(tmp_path, uncertain_policy="maybe")
    with pytest.raises(BuildError, match="frontal_only"):
        build(tmp_path, frontal_only="yes")


def test_option_exclusions_are_counted_in_the_prepare_summary(tmp_path):
    from clinfair.tasks.prepare import prepare

    write_raw(tmp_path / "raw")
    summary = prepare(
        get_task("chexpert"),
        tmp_path / "out",
        tmp_path / "raw",
        skip_bad=True,
        progress=False,
        options={"uncertain_policy": "ignore"},
    )
    # TRAIN_ROWS: one lateral view; one frontal image with uncertain labels
    assert summary.excluded == {
        "lateral view (option frontal_only)": 1,
        "uncertain observation (option uncertain_policy=ignore)": 1,
    }
    assert summary.skipped == 1  # the bad label value, counted apart from the exclusions
    assert "excluded by option: 1 lateral view" in summary.to_text()
