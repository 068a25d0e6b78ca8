"""PAD-UFES-20: smartphone photographs of skin lesions with patient data (Brazil).

Source: Mendeley Data, doi:10.17632/zr7vgbcyr2.1 (https://data.mendeley.com/datasets/zr7vgbcyr2/1),
described in Pacheco et al., Data in Brief 32, 106221 (2020),
https://pmc.ncbi.nlm.nih.gov/articles/PMC7479321 (table of the metadata attributes).

Verified raw layout (the unpacked Mendeley download)::

    metadata.csv   one row per image, columns: patient_id (PAT_46), lesion_id, smoke, drink,
                   background_father, background_mother, age, pesticide, gender
                   (FEMALE / MALE / blank), skin_cancer_history, cancer_history,
                   has_piped_water, has_sewage_system, fitspatrick (1.0..6.0 / blank),
                   region, diameter_1, diameter_2, diagnostic (ACK BCC MEL NEV SCC SEK),
                   itch, grew, hurt, changed, bleed, elevation, img_id (PAT_46_881_939.png),
                   biopsed
    images/imgs_part_1/, imgs_part_2/, imgs_part_3/   the PNGs, shipped as three zip
                   archives; unpacking nests them one level deeper
                   (images/imgs_part_1/imgs_part_1/PAT_46_881_939.png)

Many patients have only age, region and the lesion questions filled in: sex and skin type
are then blank and become null. The PNGs are found by file name anywhere under the raw
folder, so every way of unpacking the archives works; an ``img_id`` written without its
extension (as in the paper's example ``PAT_1234_123_000``) gets ``.png``.

Labels follow docs/design.md (the HAM10000 label space): ACK and SCC (which includes Bowen's
disease) -> actinic keratosis (AKIEC), SEK -> other. Skin type goes into the row's
``attributes["fitzpatrick"]`` as "1".."6". There is no official split: rows are assigned
by a stable hash of ``patient_id``, so one patient's lesions never straddle splits.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from clinfair.tasks.builders.base import Builder, RawRecord, assign_split, load_image
from clinfair.tasks.schema import FieldError

METADATA_FILE = "metadata.csv"
IMAGE_SUFFIX = ".png"

PATIENT_COLUMN = "patient_id"
IMAGE_COLUMN = "img_id"
DIAGNOSIS_COLUMN = "diagnostic"
AGE_COLUMN = "age"
SEX_COLUMN = "gender"
SKIN_TYPE_COLUMN = "fitspatrick"  # sic: the source's spelling
REQUIRED_COLUMNS = (PATIENT_COLUMN, IMAGE_COLUMN, DIAGNOSIS_COLUMN, AGE_COLUMN, SEX_COLUMN, SKIN_TYPE_COLUMN)

#: The source's diagnosis code -> the task's label.
DIAGNOSIS_LABELS = {
    "MEL": "melanoma",
    "NEV": "nevus",
    "BCC": "basal cell carcinoma",
    "ACK": "actinic keratosis",
    "SCC": "actinic keratosis",
    "SEK": "other",
}
FITZPATRICK_TYPES = range(1, 7)


class PADUFES20Builder(Builder):
    """Rows of PAD-UFES-20 from its Mendeley folder (see the module docstring)."""

    def records(self) -> Iterator[RawRecord]:
        yield from self.csv_records(self.find_file(METADATA_FILE), REQUIRED_COLUMNS)

    @cached_property
    def image_paths(self) -> dict[str, Path]:
        """File name -> path of every PNG under the raw folder (built once, on first use)."""
        assert self.raw_dir is not None
        return {path.name: path for path in sorted(self.raw_dir.rglob(f"*{IMAGE_SUFFIX}"))}

    def to_example(self, record: RawRecord) -> dict[str, Any]:
        data = record.data
        code = data[DIAGNOSIS_COLUMN]
        if code not in DIAGNOSIS_LABELS:
            raise FieldError(
                "answer", f"unknown diagnostic {code!r}; expected one of {list(DIAGNOSIS_LABELS)}"
            )
        name = data[IMAGE_COLUMN]
        if not Path(name).suffix:
            name += IMAGE_SUFFIX
        path = self.image_paths.get(name)
        if path is None:
            raise FieldError("images", f"image {name} not found under {self.raw_dir}")
        return self.example(
            id=Path(name).stem,
            split=assign_split(
                data[PATIENT_COLUMN], int(self.options["seed"]), self.options["split_fractions"]
            ),
            images=[load_image(path)],
            answer=[DIAGNOSIS_LABELS[code]],
            sex=data[SEX_COLUMN],
            age=data[AGE_COLUMN],
            attributes={"fitzpatrick": fitzpatrick_type(data[SKIN_TYPE_COLUMN])},
        )


def fitzpatrick_type(value: str) -> str | None:
    """ "3.0" or "3" -> "3"; blank -> None; anything outside types 1..6 is a field error."""
    if not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number.is_integer() or int(number) not in FITZPATRICK_TYPES:
        raise FieldError("fitzpatrick", f"Fitzpatrick skin type {value!r} is not one of 1..6")
    return str(int(number))
