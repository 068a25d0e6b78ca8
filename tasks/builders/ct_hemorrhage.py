"""CT-ICH: is there an intracranial hemorrhage on this head CT slice (brain + bone window)?

Source: PhysioNet "Computed Tomography Images for Intracranial Hemorrhage Detection and
Segmentation", https://physionet.org/content/ct-ich/1.2.0/ (the JPEG release; open access,
CC BY 4.0), mirrored on Kaggle as ``vbookshelf/computed-tomography-ct-images``. Layout
verified against the release README and public loaders of that layout::

    patient_demographics.csv    Patient Number, Age (years), Gender, ... (one row per patient)
    hemorrhage_diagnosis.csv    PatientNumber, SliceNumber, Intraventricular, Intraparenchymal,
                                Subarachnoid, Epidural, Subdural, No_Hemorrhage, Fracture_Yes_No
                                (one row per slice, 0/1 flags)
    Patients_CT/049/brain/1.jpg          brain window (level 40, width 120) of slice 1
    Patients_CT/049/brain/1_HGE_Seg.jpg  hemorrhage mask (not used)
    Patients_CT/049/bone/1.jpg           bone window of slice 1

Patient folders are zero-padded to three digits; slices are numbered from 1. In the
demographics table the age header is written across two lines (``Age\\n(years)``), so its
column names are matched ignoring case and whitespace. The Kaggle mirror may nest all of
this in one folder; ``--raw`` may point at that folder or at its parent.

Release 1.3.x on PhysioNet ships NIfTI volumes (``ct_scans/``) and
``hemorrhage_diagnosis_raw_ct.csv`` instead of JPEG slices; this builder needs the JPEG
slices and says so. ``hemorrhage_diagnosis_raw_ct.csv`` (same columns) is read only when
``hemorrhage_diagnosis.csv`` is absent.

One example is one slice with two images, brain window then bone window. The answer is
"yes" when any of the five hemorrhage types is flagged, "no" when ``No_Hemorrhage`` is; a
slice whose flags contradict each other is a field error on ``answer``. Splits hash the
patient number, so all slices of a patient land in the same split. A patient missing from
the demographics table gets null sex and age.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clinfair.tasks.builders.base import (
    Builder,
    BuildError,
    RawRecord,
    RowError,
    assign_split,
    load_image,
    reading,
)
from clinfair.tasks.schema import FieldError

DIAGNOSIS_FILES = ("hemorrhage_diagnosis.csv", "hemorrhage_diagnosis_raw_ct.csv")
DEMOGRAPHICS_FILE = "patient_demographics.csv"
IMAGE_FOLDER = "Patients_CT"
NIFTI_FOLDER = "ct_scans"  # release 1.3.x
PATIENT_COLUMN = "PatientNumber"
SLICE_COLUMN = "SliceNumber"
HEMORRHAGE_TYPES = ("Intraventricular", "Intraparenchymal", "Subarachnoid", "Epidural", "Subdural")
NO_HEMORRHAGE_COLUMN = "No_Hemorrhage"
FLAG_VALUES = {0.0: False, 1.0: True}  # written 0/1 (or 0.0/1.0 after a round trip through pandas)
ANSWERS = {True: "yes", False: "no"}
#: Demographics columns, keyed by their name lower-cased without whitespace.
DEMOGRAPHICS_COLUMNS = {"patient": "patientnumber", "age": "age(years)", "sex": "gender"}
WINDOWS = ("brain", "bone")  # image order in every example


def _column_key(name: str) -> str:
    """``"Age\\n(years)"`` -> ``"age(years)"``: header cells compared without case and whitespace."""
    return "".join(name.split()).lower()


class CTHemorrhageBuilder(Builder):
    """One row per labelled slice of ``hemorrhage_diagnosis.csv`` (see the module docstring)."""

    def __init__(self, spec, raw_dir=None, **options: Any):
        super().__init__(spec, raw_dir, **options)
        self.root = self._release_folder()
        self.demographics = self._read_demographics(self.root / DEMOGRAPHICS_FILE)

    def _release_folder(self) -> Path:
        """``--raw`` itself, or the one folder inside it, that holds ``Patients_CT/``."""
        candidates = [self.path(), *sorted(p for p in self.path().iterdir() if p.is_dir())]
        for folder in candidates:
            if (folder / IMAGE_FOLDER).is_dir():
                return folder
        if any((folder / NIFTI_FOLDER).is_dir() for folder in candidates):
            raise BuildError(
                f"ct_hemorrhage: {self.raw_dir} holds the NIfTI release (ct_scans/, PhysioNet 1.3.x); this "
                f"builder reads the JPEG slices in {IMAGE_FOLDER}/ of release 1.2.0 or of the Kaggle mirror"
            )
        raise BuildError(f"ct_hemorrhage: no {IMAGE_FOLDER}/ folder in {self.raw_dir} or its subfolders")

    def _read_demographics(self, path: Path) -> dict[int, dict[str, Any]]:
        """Sex, age and row number per patient number. Rows without a patient number (spreadsheet
        exports end with blank lines) are passed over; a patient listed twice is an error."""
        if not path.is_file():
            raise BuildError(f"ct_hemorrhage: {DEMOGRAPHICS_FILE} not found in {self.root}")
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [_column_key(name) for name in next(reader, [])]
            missing = [key for key in DEMOGRAPHICS_COLUMNS.values() if key not in header]
            if missing:
                raise BuildError(
                    f"{self.relative(path)}: missing column(s) {missing} (compared lower-case "
                    f"without spaces); found {header}"
                )
            index = {field: header.index(key) for field, key in DEMOGRAPHICS_COLUMNS.items()}
            table = {}
            for number, row in enumerate(reader, start=1):
                cells: dict[str, Any] = {
                    field: row[i].strip() if i < len(row) else "" for field, i in index.items()
                }
                if not cells["patient"]:
                    continue
                try:
                    patient = int(cells["patient"])
                except ValueError:
                    raise BuildError(
                        f"{self.relative(path)}, row {number}: patient number "
                        f"{cells['patient']!r} is not an integer"
                    ) from None
                if patient in table:
                    raise BuildError(
                        f"{self.relative(path)}, row {number}: patient {patient} is already "
                        f"listed in row {table[patient]['row']}"
                    )
                table[patient] = {**cells, "row": number}
        return table

    def records(self) -> Iterator[RawRecord]:
        path = self.find_file(*(str(self.root.relative_to(self.raw_dir) / name) for name in DIAGNOSIS_FILES))
        required = (PATIENT_COLUMN, SLICE_COLUMN, *HEMORRHAGE_TYPES, NO_HEMORRHAGE_COLUMN)
        yield from self.csv_records(path, required)

    def to_example(self, record: RawRecord) -> dict[str, Any]:
        data = record.data
        with reading(PATIENT_COLUMN):
            patient = int(data[PATIENT_COLUMN])
        with reading(SLICE_COLUMN):
            slice_number = int(data[SLICE_COLUMN])
        demographics = self.demographics.get(patient, {})
        folder = self.root / IMAGE_FOLDER / f"{patient:03d}"
        images = [load_image(folder / window / f"{slice_number}.jpg") for window in WINDOWS]
        answer = [ANSWERS[self._hemorrhage(data)]]
        try:
            return self.example(
                id=f"patient{patient:03d}_slice{slice_number}",
                split=assign_split(f"{patient:03d}"),
                images=images,
                answer=answer,
                sex=demographics.get("sex"),
                age=demographics.get("age"),
            )
        except FieldError as error:
            if error.field not in ("sex", "age"):
                raise
            # The bad value sits in the demographics table: point there, not at the slice row.
            raise RowError(
                self.relative(self.root / DEMOGRAPHICS_FILE),
                demographics["row"],
                error.field,
                f"{error.message} (patient {patient}, slice {slice_number})",
            ) from None

    @staticmethod
    def _hemorrhage(data: dict[str, str]) -> bool:
        """Whether the slice shows a hemorrhage; the type flags and No_Hemorrhage must agree."""
        flags = {}
        for column in (*HEMORRHAGE_TYPES, NO_HEMORRHAGE_COLUMN):
            try:
                flags[column] = FLAG_VALUES[float(data[column])]
            except (ValueError, KeyError):
                raise FieldError(
                    "answer", f"unrecognised flag {data[column]!r} in column {column!r}; expected 0 or 1"
                ) from None
        flagged = [column for column in HEMORRHAGE_TYPES if flags[column]]
        if bool(flagged) == flags[NO_HEMORRHAGE_COLUMN]:
            raise FieldError(
                "answer",
                f"contradictory flags: hemorrhage types flagged {flagged} and "
                f"{NO_HEMORRHAGE_COLUMN}={data[NO_HEMORRHAGE_COLUMN]}",
            )
        return bool(flagged)
