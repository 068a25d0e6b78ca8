"""VinDr-Mammo 1.0.0: BI-RADS assessment of full-field digital mammograms (DICOM).

Source: https://physionet.org/content/vindr-mammo/1.0.0/ (credentialed PhysioNet access),
described in Nguyen et al., Scientific Data 10, 277 (2023),
https://www.nature.com/articles/s41597-023-02100-7, with the authors' code at
https://github.com/vinbigdata-medical/vindr-mammo (``tags.csv`` lists the DICOM tags kept).

Verified raw layout (the PhysioNet folder ``vindr-mammo/1.0.0/``)::

    breast-level_annotations.csv   one row per image: study_id, series_id, image_id,
                                   laterality (L/R), view_position (CC/MLO), height, width,
                                   breast_birads ("BI-RADS 1".."BI-RADS 5"), breast_density,
                                   split ("training" / "test")
    finding_annotations.csv        one row per marked finding (boxes): not read here
    metadata.csv                   DICOM tags per image, columns named after the tags:
                                   "SOP Instance UID" (= image_id), "Patient's Age"
                                   (DICOM age string such as "053Y"), "Manufacturer", ...
    images/<study_id>/<image_id>.dicom

One example per image (each view of each breast), labelled with its breast's BI-RADS
category. The source provides age only (no sex: all patients are women, and the task
declares ``demographics: [age]``). Age is read from ``metadata.csv`` when that file holds
it for the image; when the file is absent or its cell is blank, from the DICOM header
(PatientAge, the same tag), so a partial download still yields ages.

Splits: the official split is kept. ``test`` -> test; ``training`` -> train, except a
``validation_fraction`` share of the *studies* (chosen by a stable hash of the study id,
so the four views of one exam stay together) -> validation.

Pixels: the modality LUT (rescale) and the VOI LUT or window stored in the file are
applied, MONOCHROME1 images are inverted so that tissue is bright, the result is scaled
to 8 bits and resized so that its longest side is ``image_size``. Decoding needs the
optional extra ``dicom`` (pydicom); compressed transfer syntaxes additionally need one
of pydicom's pixel-data plugins (e.g. pylibjpeg), and a file that cannot be decoded is
reported as a bad ``images`` field naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from clinfair.tasks.builders.base import (
    Builder,
    BuildError,
    RawRecord,
    assign_split,
    encode_png,
    require_extra,
)
from clinfair.tasks.schema import FieldError
from PIL import Image

ANNOTATIONS_FILE = "breast-level_annotations.csv"
METADATA_FILE = "metadata.csv"
IMAGES_DIR = "images"
DICOM_SUFFIX = ".dicom"

# Columns of breast-level_annotations.csv that the builder reads.
STUDY_COLUMN = "study_id"
IMAGE_COLUMN = "image_id"
BIRADS_COLUMN = "breast_birads"
SPLIT_COLUMN = "split"
ANNOTATION_COLUMNS = (STUDY_COLUMN, IMAGE_COLUMN, BIRADS_COLUMN, SPLIT_COLUMN)

# Columns of metadata.csv (named after the DICOM attributes they copy).
METADATA_IMAGE_COLUMN = "SOP Instance UID"
METADATA_AGE_COLUMN = "Patient's Age"

#: The source's BI-RADS value -> the task's label (the label space is the source's own).
BIRADS_LABELS = {f"BI-RADS {n}": f"BI-RADS {n}" for n in range(1, 6)}
#: The official split -> ours; "training" is further divided into train and validation.
OFFICIAL_SPLITS = {"training": "train", "test": "test"}


class VinDrMammoBuilder(Builder):
    """Rows of VinDr-Mammo from its PhysioNet folder (see the module docstring)."""

    def __init__(self, spec, raw_dir=None, **options: Any):
        super().__init__(spec, raw_dir, **options)
        self.pydicom = require_extra("pydicom", "dicom")  # fail before reading anything
        fraction = float(self.options["validation_fraction"])
        if not 0.0 <= fraction <= 1.0:
            raise BuildError(f"{spec.key}: validation_fraction must be in [0, 1], got {fraction}")
        self.training_fractions = {"train": 1.0 - fraction, "validation": fraction}
        if int(self.options["image_size"]) < 1:
            raise BuildError(f"{spec.key}: image_size must be a positive number of pixels")

    def records(self) -> Iterator[RawRecord]:
        annotations = self.find_file(ANNOTATIONS_FILE)
        yield from self.csv_records(annotations, ANNOTATION_COLUMNS)

    @cached_property
    def metadata_ages(self) -> dict[str, str]:
        """image_id -> the raw "Patient's Age" of metadata.csv (empty if the file is absent)."""
        path = self.path(METADATA_FILE)
        if not path.is_file():
            return {}
        return {
            record.data[METADATA_IMAGE_COLUMN]: record.data[METADATA_AGE_COLUMN]
            for record in self.csv_records(path, (METADATA_IMAGE_COLUMN, METADATA_AGE_COLUMN))
        }

    def to_example(self, record: RawRecord) -> dict[str, Any]:
        data = record.data
        study_id, image_id = data[STUDY_COLUMN], data[IMAGE_COLUMN]
        birads = data[BIRADS_COLUMN]
        if birads not in BIRADS_LABELS:
            raise FieldError(
                "answer", f"unknown BI-RADS value {birads!r}; expected one of {list(BIRADS_LABELS)}"
            )
        official = data[SPLIT_COLUMN]
        if official not in OFFICIAL_SPLITS:
            raise FieldError("split", f"unknown split {official!r}; expected one of {list(OFFICIAL_SPLITS)}")
        split = OFFICIAL_SPLITS[official]
        if split == "train":
            split = assign_split(study_id, int(self.options["seed"]), self.training_fractions)
        dicom = self.path(IMAGES_DIR, study_id, image_id + DICOM_SUFFIX)
        pixels, header_age = self.read_dicom(dicom)
        age = self.metadata_ages.get(image_id) or header_age
        return self.example(
            id=image_id,
            split=split,
            images=[encode_png(pixels, f"{image_id}.png")],
            answer=[BIRADS_LABELS[birads]],
            age=age,
        )

    def read_dicom(self, path: Path) -> tuple[np.ndarray, str | None]:
        """The displayable 8-bit image of a DICOM file and its PatientAge tag (or None)."""
        from pydicom.pixels import apply_modality_lut, apply_voi_lut

        if not path.is_file():
            raise FieldError("images", f"DICOM file {self.relative(path)} not found")
        try:
            dataset = self.pydicom.dcmread(path)
            values = apply_voi_lut(apply_modality_lut(dataset.pixel_array, dataset), dataset)
        except Exception as error:  # pydicom raises many types for corrupt or unsupported data
            raise FieldError("images", f"cannot decode DICOM {self.relative(path)}: {error}") from None
        if values.ndim != 2:
            shape = values.shape
            raise FieldError(
                "images", f"DICOM {self.relative(path)} is not one grayscale frame (shape {shape})"
            )
        gray = _to_uint8(values.astype(np.float64))
        if dataset.get("PhotometricInterpretation", "MONOCHROME2") == "MONOCHROME1":
            gray = 255 - gray  # MONOCHROME1 stores dense tissue as low values
        image = Image.fromarray(gray)
        size = int(self.options["image_size"])
        scale = size / max(image.size)
        new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(new_size, Image.Resampling.LANCZOS)
        age = dataset.get("PatientAge")
        return np.asarray(image), (str(age) if age else None)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Stretch the displayed value range to 0..255 (a constant image becomes black)."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)
