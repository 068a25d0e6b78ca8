"""COVID-BLUES: bluepoint lung ultrasound videos of COVID-19 suspects (Maastricht UMC+).

Source: https://github.com/NinaWie/COVID-BLUES (README, clinical_variables.csv,
variable_explanations.csv and lus_videos/ checked in that repository).

Verified raw layout (a clone of the repository)::

    lus_videos/patient_<ID>_<POINT>.mp4     one video (60-100 frames) per BLUE point;
                                            POINT is L1 L2 L3 R1 R2 R3, and a second
                                            recording of a point is patient_<ID>_<POINT>_2.mp4
                                            (e.g. patient_15_L2_2.mp4)
    clinical_variables.csv                  one row per patient (63), ~140 columns, among them
                                            patient_id (1..63), cov_test (PCR result,
                                            1=positive 0=negative), pat_sex (0=female,
                                            1=male), pat_age (years, e.g. 87.0); -99 marks a
                                            value that was not recorded
    severity.csv, variable_explanations.csv not read here

One example per video (the question asks about "one lung ultrasound video"; 362 videos of
63 patients), carrying its patient's PCR result as the answer and the patient's sex and
age. A ``frames`` number of frames is sampled evenly from the first to the last frame and
each becomes one PNG image. A video that cannot be decoded, or that has fewer frames than
requested, is a bad ``images`` field: frames are never padded by repetition, which would
hand the model a fake video. Nothing is dropped silently: a patient row without any video
and a video without a patient row are reported as bad rows too.

There is no official split: videos are assigned by a stable hash of the patient id, so one
patient's videos never straddle splits (as the README asks). Decoding needs the optional
extra ``video`` (PyAV).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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

CLINICAL_FILE = "clinical_variables.csv"
VIDEO_DIR = "lus_videos"
VIDEO_NAME = re.compile(r"^patient_(?P<patient>\d+)_(?P<point>[LR][123])(?:_\d+)?\.mp4$")

PATIENT_COLUMN = "patient_id"
COVID_COLUMN = "cov_test"
SEX_COLUMN = "pat_sex"
AGE_COLUMN = "pat_age"
REQUIRED_COLUMNS = (PATIENT_COLUMN, COVID_COLUMN, SEX_COLUMN, AGE_COLUMN)

#: cov_test (PCR result) -> the task's label.
COVID_LABELS = {"1": "yes", "0": "no"}
#: pat_sex code -> the sex value of the schema.
SEX_CODES = {"0": "F", "1": "M"}
#: The clinical table's code for a value that was not recorded.
NOT_RECORDED = "-99"


class CovidBluesBuilder(Builder):
    """Rows of COVID-BLUES from a clone of its repository (see the module docstring)."""

    def __init__(self, spec, raw_dir=None, **options: Any):
        super().__init__(spec, raw_dir, **options)
        self.av = require_extra("av", "video")  # fail before reading anything
        if int(self.options["frames"]) < 1:
            raise BuildError(f"{spec.key}: frames must be at least 1")

    def records(self) -> Iterator[RawRecord]:
        """One record per (patient row, video); then the videos whose patient has no row."""
        clinical = self.find_file(CLINICAL_FILE)
        videos = self.videos_by_patient()
        for record in self.csv_records(clinical, REQUIRED_COLUMNS):
            patient = _code(record.data[PATIENT_COLUMN])
            for video in videos.pop(patient, [None]):
                yield RawRecord(record.file, record.row, {**record.data, "patient": patient, "video": video})
        for patient, paths in videos.items():
            for video in paths:
                yield RawRecord(self.relative(video), "-", {"patient": patient, "video": video})

    def videos_by_patient(self) -> dict[str | None, list[Path]]:
        """Videos of lus_videos/ grouped by the patient id in their name (None: name not parsed)."""
        folder = self.path(VIDEO_DIR)
        if not folder.is_dir():
            raise BuildError(f"{self.spec.key}: video folder {folder} not found")
        grouped: dict[str | None, list[Path]] = {}
        for path in sorted(folder.glob("*.mp4")):
            match = VIDEO_NAME.match(path.name)
            grouped.setdefault(match["patient"] if match else None, []).append(path)
        return grouped

    def to_example(self, record: RawRecord) -> dict[str, Any]:
        data, video = record.data, record.data["video"]
        if video is None:
            raise FieldError("images", f"no video of patient {data['patient']} in {VIDEO_DIR}/")
        if PATIENT_COLUMN not in data:
            if data["patient"] is None:
                raise FieldError(
                    "images", f"video name {video.name} does not follow patient_<ID>_<POINT>.mp4"
                )
            raise FieldError("answer", f"patient {data['patient']} has no row in {CLINICAL_FILE}")
        covid = _code(data[COVID_COLUMN])
        if covid not in COVID_LABELS:
            raise FieldError("answer", f"unknown cov_test value {data[COVID_COLUMN]!r}; expected 1 or 0")
        sex = _code(data[SEX_COLUMN])
        if sex not in SEX_CODES and sex not in (None, NOT_RECORDED):
            raise FieldError("sex", f"unknown pat_sex value {data[SEX_COLUMN]!r}; expected 0 or 1")
        age = None if _code(data[AGE_COLUMN]) == NOT_RECORDED else data[AGE_COLUMN]
        return self.example(
            id=video.stem,
            split=assign_split(data["patient"], int(self.options["seed"]), self.options["split_fractions"]),
            images=[
                encode_png(frame, f"{video.stem}_{i}.png")
                for i, frame in enumerate(self.sample_frames(video))
            ],
            answer=[COVID_LABELS[covid]],
            sex=SEX_CODES.get(sex),
            age=age,
        )

    def sample_frames(self, path: Path) -> list[np.ndarray]:
        """``frames`` RGB frames evenly spaced from the first to the last frame of a video.

        Decodes twice (count, then pick) so that only the chosen frames are ever held in memory.
        """
        wanted = int(self.options["frames"])
        name = self.relative(path)
        try:
            with self.av.open(str(path)) as container:
                total = sum(1 for _ in container.decode(video=0))
            if total < wanted:
                raise FieldError(
                    "images", f"video {name} has {total} decodable frames, fewer than the {wanted} requested"
                )
            indices = set(np.linspace(0, total - 1, wanted).round().astype(int).tolist())
            with self.av.open(str(path)) as container:
                frames = [
                    frame.to_ndarray(format="rgb24")
                    for index, frame in enumerate(container.decode(video=0))
                    if index in indices
                ]
        except FieldError:
            raise
        except Exception as error:  # PyAV raises many types for corrupt or unsupported data
            raise FieldError("images", f"cannot decode video {name}: {error}") from None
        if len(frames) != wanted:
            raise FieldError("images", f"video {name} decoded differently on a second pass")
        return frames


def _code(value: str) -> str | None:
    """A numeric code as written without a decimal part ("1.0" -> "1"); blank -> None."""
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text
