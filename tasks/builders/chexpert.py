"""CheXpert v1.0: which of 14 observations a chest radiograph shows (multi-label).

Source: https://stanfordmlgroup.github.io/competitions/chexpert/ (download CheXpert-v1.0 or
CheXpert-v1.0-small from the Stanford AIMI site after accepting the research use agreement).
Layout verified against that page, public loaders and the CSV head shown by the Hugging Face
mirror https://huggingface.co/datasets/danjacobellis/chexpert::

    CheXpert-v1.0-small/                 (CheXpert-v1.0/ for the full-resolution release)
        train.csv
        valid.csv
        train/patient00001/study1/view1_frontal.jpg
        valid/patient64541/study1/view1_frontal.jpg

``train.csv`` and ``valid.csv`` have the columns ``Path, Sex, Age, Frontal/Lateral, AP/PA``
followed by the 14 observations (``No Finding`` ... ``Support Devices``), each ``1.0``
(positive), ``0.0`` (negative), ``-1.0`` (uncertain) or blank (not mentioned). ``Path``
starts with the release folder, e.g.
``CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg``; ``Sex`` is ``Male``,
``Female`` or ``Unknown``. ``--raw`` may point at the release folder itself or at the
folder that contains it.

Choices made here:

* **Splits.** The official test labels are not part of the download. ``valid.csv`` (200
  patients, labelled by radiologists) becomes ``validation``; the patients of ``train.csv``
  are split 80/20 into ``train`` and ``test`` by a hash of the patient id, so one patient
  never straddles splits and the test split is large enough for per-group metrics.
* **Uncertain labels** (option ``uncertain_policy``): ``zeros`` counts them as absent,
  ``ones`` as present, ``ignore`` leaves out every image with an uncertain observation
  (a set-valued answer cannot leave one finding undecided).
* **Views** (option ``frontal_only``, default true): lateral views are left out.
  Like ``ignore``, this is a selection made by an option, not a bad row: it is counted as
  *excluded* in the prepare summary, not among the skipped (bad) rows.
* **No positive observation.** The answer is ``["No Finding"]`` only when that column is
  ``1.0``. An image with no positive observation at all (for instance only uncertain ones
  under ``zeros``) has no answer in the label space: it is a field error on ``answer``,
  i.e. it stops the build, or is counted and skipped with ``--skip-bad``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from clinfair.tasks.builders.base import Builder, BuildError, RawRecord, assign_split, load_image
from clinfair.tasks.schema import FieldError

PATH_COLUMN = "Path"
SEX_COLUMN = "Sex"
AGE_COLUMN = "Age"
VIEW_COLUMN = "Frontal/Lateral"
FRONTAL = "Frontal"
#: The 14 observation columns; each column name is also the label in the task's choices.
OBSERVATIONS = (
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
)
NO_FINDING = "No Finding"
POSITIVE, NEGATIVE, UNCERTAIN = 1.0, 0.0, -1.0
#: Which label values count as "present" under each uncertain policy.
PRESENT_VALUES = {"zeros": {POSITIVE}, "ones": {POSITIVE, UNCERTAIN}, "ignore": {POSITIVE}}
#: The label CSV of each official split and the split its rows go to (None: hash the patient).
CSV_FILES = {"train.csv": None, "valid.csv": "validation"}
TRAIN_CSV_FRACTIONS = {"train": 0.8, "test": 0.2}
RELEASE_FOLDERS = ("CheXpert-v1.0-small", "CheXpert-v1.0")
#: First component of a Path once the release folder is stripped.
IMAGE_FOLDERS = ("train", "valid", "test")


def parse_label(value: str, column: str) -> float | None:
    """An observation cell as 1.0 / 0.0 / -1.0, or ``None`` when blank (not mentioned)."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = None
    if number not in (POSITIVE, NEGATIVE, UNCERTAIN):
        raise FieldError(
            "answer",
            f"unrecognised label value {value!r} in column {column!r}; expected 1.0, 0.0, -1.0 or blank",
        )
    return number


class CheXpertBuilder(Builder):
    """Rows of ``train.csv`` and ``valid.csv``, one per radiograph (see the module docstring)."""

    def __init__(self, spec, raw_dir=None, **options: Any):
        super().__init__(spec, raw_dir, **options)
        self.policy = self.options["uncertain_policy"]
        if self.policy not in PRESENT_VALUES:
            raise BuildError(
                f"chexpert: uncertain_policy {self.policy!r} is not one of {sorted(PRESENT_VALUES)}"
            )
        self.frontal_only = self.options["frontal_only"]
        if not isinstance(self.frontal_only, bool):
            raise BuildError(f"chexpert: frontal_only must be true or false, not {self.frontal_only!r}")
        self.root = self._release_folder()

    def _release_folder(self) -> Path:
        """The folder holding train.csv and valid.csv: ``--raw`` itself or a release folder in it."""
        for folder in (self.path(), *(self.path(name) for name in RELEASE_FOLDERS)):
            if all((folder / name).is_file() for name in CSV_FILES):
                return folder
        raise BuildError(
            f"chexpert: {self.raw_dir} holds neither {list(CSV_FILES)} nor a folder "
            f"{' or '.join(RELEASE_FOLDERS)} with them"
        )

    def records(self) -> Iterator[RawRecord]:
        required = (PATH_COLUMN, SEX_COLUMN, AGE_COLUMN, VIEW_COLUMN, *OBSERVATIONS)
        for name, split in CSV_FILES.items():
            for record in self.csv_records(self.root / name, required):
                if self.frontal_only and record.data[VIEW_COLUMN] != FRONTAL:
                    self.exclude("lateral view (option frontal_only)")
                    continue
                if self.policy == "ignore" and any(_is_uncertain(record.data[c]) for c in OBSERVATIONS):
                    self.exclude("uncertain observation (option uncertain_policy=ignore)")
                    continue
                # "_split": the split fixed by the file (valid.csv), or None to hash the patient
                yield RawRecord(record.file, record.row, {**record.data, "_split": split})

    def to_example(self, record: RawRecord) -> dict[str, Any]:
        data = record.data
        image = self._image_path(data[PATH_COLUMN])
        present = PRESENT_VALUES[self.policy]
        answer = [name for name in OBSERVATIONS if parse_label(data[name], name) in present]
        if not answer:
            raise FieldError(
                "answer",
                f"no positive observation: none counts as present under "
                f"uncertain_policy={self.policy} and {NO_FINDING!r} is not 1.0",
            )
        relative = image.relative_to(self.root)  # train/<patient>/<study>/<view>.jpg
        split = data["_split"] or assign_split(relative.parts[1], fractions=TRAIN_CSV_FRACTIONS)
        return self.example(
            id=relative.with_suffix("").as_posix(),
            split=split,
            images=[load_image(image)],
            answer=answer,
            sex=data[SEX_COLUMN],
            age=data[AGE_COLUMN],
        )

    def _image_path(self, value: str) -> Path:
        """Resolve a CSV ``Path`` (``CheXpert-v1.0-small/train/patient.../view1_frontal.jpg``)
        inside the release folder, whatever that folder is called on this machine."""
        parts = PurePosixPath(value).parts
        if parts and parts[0] not in IMAGE_FOLDERS:
            parts = parts[1:]  # the release folder name the CSV was written with
        if len(parts) < 3 or parts[0] not in IMAGE_FOLDERS:
            raise FieldError(
                PATH_COLUMN,
                f"unexpected image path {value!r}; expected "
                "<release>/<train|valid>/<patient>/<study>/<view>.jpg",
            )
        return self.root.joinpath(*parts)


def _is_uncertain(value: str) -> bool:
    """Whether a cell is -1.0; other values, bad ones included, are judged in ``to_example``."""
    try:
        return float(value) == UNCERTAIN
    except ValueError:
        return False
