"""HAM10000: the diagnosis of a dermatoscopic image, in the paper's five classes.

Source: the Harvard Dataverse record https://doi.org/10.7910/DVN/DBW86T (files
HAM10000_images_part_1.zip, HAM10000_images_part_2.zip and HAM10000_metadata) and its
Kaggle mirror ``kmader/skin-cancer-mnist-ham10000`` (HAM10000_metadata.csv and the folders
HAM10000_images_part_1/ and HAM10000_images_part_2/). Layout verified against the record's
description, the data descriptor (Tschandl et al., Sci. Data 2018) and public loaders::

    HAM10000_metadata | HAM10000_metadata.csv
        lesion_id, image_id, dx, dx_type, age, sex, localization
    HAM10000_images_part_1/ISIC_0024306.jpg   (and HAM10000_images_part_2/)

``dx`` is one of akiec, bcc, bkl, df, mel, nv, vasc; ``sex`` is male/female/unknown;
``age`` is a multiple of 5 or blank. Images may also sit in one ``HAM10000_images/`` folder
or directly in the raw folder (the Dataverse zips have no inner folder).

The paper's five classes map mel, nv, bcc and akiec to their own class and bkl, df and
vasc to "other"; any other ``dx`` is a field error on ``answer``. HAM10000 has no patient
id, and one lesion has several images, so the split hashes ``lesion_id``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clinfair.tasks.builders.base import Builder, RawRecord, assign_split, load_image
from clinfair.tasks.schema import FieldError

METADATA_FILES = ("HAM10000_metadata.csv", "HAM10000_metadata")
#: Folders searched for ``<image_id>.jpg``, in order ("." is the raw folder itself).
IMAGE_FOLDERS = (
    "HAM10000_images_part_1",
    "HAM10000_images_part_2",
    "ham10000_images_part_1",
    "ham10000_images_part_2",
    "HAM10000_images",
    ".",
)
IMAGE_COLUMN = "image_id"
LESION_COLUMN = "lesion_id"
DIAGNOSIS_COLUMN = "dx"
SEX_COLUMN = "sex"
AGE_COLUMN = "age"
#: dx code -> the paper's label.
LABELS = {
    "mel": "melanoma",
    "nv": "nevus",
    "bcc": "basal cell carcinoma",
    "akiec": "actinic keratosis",
    "bkl": "other",
    "df": "other",
    "vasc": "other",
}


class HAM10000Builder(Builder):
    """One row per image of the metadata table (see the module docstring)."""

    def __init__(self, spec, raw_dir=None, **options: Any):
        super().__init__(spec, raw_dir, **options)
        self.image_folders = [self.path(name) for name in IMAGE_FOLDERS if self.path(name).is_dir()]

    def records(self) -> Iterator[RawRecord]:
        required = (LESION_COLUMN, IMAGE_COLUMN, DIAGNOSIS_COLUMN, AGE_COLUMN, SEX_COLUMN)
        yield from self.csv_records(self.find_file(*METADATA_FILES), required)

    def to_example(self, record: RawRecord) -> dict[str, Any]:
        data = record.data
        if not data[LESION_COLUMN]:
            raise FieldError(LESION_COLUMN, "blank lesion id: the split needs it")
        dx = data[DIAGNOSIS_COLUMN].lower()
        if dx not in LABELS:
            raise FieldError(
                "answer", f"unknown dx value {data[DIAGNOSIS_COLUMN]!r}; expected one of {list(LABELS)}"
            )
        return self.example(
            id=data[IMAGE_COLUMN],
            split=assign_split(data[LESION_COLUMN]),
            images=[load_image(self._image_path(data[IMAGE_COLUMN]))],
            answer=[LABELS[dx]],
            sex=data[SEX_COLUMN],
            age=data[AGE_COLUMN],
        )

    def _image_path(self, image_id: str) -> Path:
        if not image_id:
            raise FieldError(IMAGE_COLUMN, "blank image id")
        for folder in self.image_folders:
            if (folder / f"{image_id}.jpg").is_file():
                return folder / f"{image_id}.jpg"
        searched = [self.relative(folder) for folder in self.image_folders]
        raise FieldError("images", f"image file not found: {image_id + '.jpg'!r} is in none of {searched}")
