"""ISIC 2020 (SIIM-ISIC Melanoma Classification): is this skin lesion benign or malignant?

Source: https://challenge2020.isic-archive.com/ (ISIC_2020_Training_JPEG.zip and
ISIC_2020_Training_GroundTruth.csv, or ``_v2`` with an extra ``lesion_id`` column) and the
Kaggle competition ``siim-isic-melanoma-classification`` (``train.csv`` and ``jpeg/train/``).
Layout verified against the challenge page, the competition's data description and public
download scripts (the JPEG zip unpacks to ``train/``)::

    train.csv | ISIC_2020_Training_GroundTruth.csv | ISIC_2020_Training_GroundTruth_v2.csv
        image_name, patient_id, [lesion_id,] sex, age_approx, anatom_site_general_challenge,
        diagnosis, benign_malignant, target
    train/ISIC_2637011.jpg     (or jpeg/train/, or ISIC_2020_Training_JPEG/train/)

``sex`` is ``male``/``female`` or blank, ``age_approx`` a multiple of 5 or blank,
``benign_malignant`` ``benign``/``malignant`` and ``target`` its 0/1 encoding; a row where
the two disagree is a field error on ``answer``. Only the training set has labels, so the
patients of the training CSV are split into train/validation/test by a hash of
``patient_id`` (a patient has many images). The anatomical site is not a demographic and
is left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clinfair.tasks.builders.base import Builder, BuildError, RawRecord, assign_split, load_image
from clinfair.tasks.schema import FieldError

CSV_FILES = ("train.csv", "ISIC_2020_Training_GroundTruth_v2.csv", "ISIC_2020_Training_GroundTruth.csv")
IMAGE_FOLDERS = ("train", "jpeg/train", "ISIC_2020_Training_JPEG/train", "ISIC_2020_Training_JPEG")
IMAGE_COLUMN = "image_name"
PATIENT_COLUMN = "patient_id"
SEX_COLUMN = "sex"
AGE_COLUMN = "age_approx"
LABEL_COLUMN = "benign_malignant"
TARGET_COLUMN = "target"
#: benign_malignant value -> label, and the target value each label must come with.
LABELS = {"benign": "benign", "malignant": "malignant"}
TARGETS = {"benign": 0.0, "malignant": 1.0}


class ISIC2020Builder(Builder):
    """One row per image of the training CSV (see the module docstring)."""

    def __init__(self, spec, raw_dir=None, **options: Any):
        super().__init__(spec, raw_dir, **options)
        self.image_folder = self._image_folder()

    def _image_folder(self) -> Path:
        for name in IMAGE_FOLDERS:
            if self.path(name).is_dir():
                return self.path(name)
        raise BuildError(f"isic2020: none of the image folders {list(IMAGE_FOLDERS)} found in {self.raw_dir}")

    def records(self) -> Iterator[RawRecord]:
        required = (IMAGE_COLUMN, PATIENT_COLUMN, SEX_COLUMN, AGE_COLUMN, LABEL_COLUMN, TARGET_COLUMN)
        yield from self.csv_records(self.find_file(*CSV_FILES), required)

    def to_example(self, record: RawRecord) -> dict[str, Any]:
        data = record.data
        image_name = data[IMAGE_COLUMN]
        if not image_name:
            raise FieldError(IMAGE_COLUMN, "blank image name")
        if not data[PATIENT_COLUMN]:
            raise FieldError(PATIENT_COLUMN, "blank patient id: the split needs it")
        return self.example(
            id=image_name,
            split=assign_split(data[PATIENT_COLUMN]),
            images=[load_image(self.image_folder / f"{image_name}.jpg")],
            answer=[self._label(data)],
            sex=data[SEX_COLUMN],
            age=data[AGE_COLUMN],
        )

    @staticmethod
    def _label(data: dict[str, str]) -> str:
        value = data[LABEL_COLUMN].lower()
        if value not in LABELS:
            raise FieldError(
                "answer", f"unknown {LABEL_COLUMN} value {data[LABEL_COLUMN]!r}; expected {list(LABELS)}"
            )
        try:
            agrees = float(data[TARGET_COLUMN]) == TARGETS[value]  # written "1" or "1.0"
        except ValueError:
            agrees = False
        if not agrees:
            raise FieldError(
                "answer",
                f"{TARGET_COLUMN} does not match {LABEL_COLUMN}: "
                f"{data[TARGET_COLUMN]!r} and {data[LABEL_COLUMN]!r}",
            )
        return LABELS[value]
