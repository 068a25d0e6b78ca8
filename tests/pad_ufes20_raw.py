"""A PAD-UFES-20 raw folder (Mendeley layout) large enough for per-Fitzpatrick-group metrics."""

from __future__ import annotations

from pathlib import Path

from rawdata import write_csv, write_png
from test_builder_pad_ufes20 import HEADER, row

#: metadata.csv diagnostic codes, cycled over the rows (SCC is read as actinic keratosis, SEK as other)
DIAGNOSTICS = ("BCC", "NEV", "ACK", "MEL", "SEK", "SCC")
#: Fitzpatrick skin types, cycled over the rows; "" = blank in the source (a null attribute)
SKIN_TYPES = ("1.0", "2.0", "3.0", "3.0", "4.0", "5.0", "6.0", "2.0", "")


def write_pad_ufes20_raw(root: Path, n: int = 45) -> Path:
    """``n`` lesions of ``n`` patients, one PNG each; sex, age and skin type cycle so that every
    Fitzpatrick type, both sexes and all four age bins have rows, and some skin types are blank."""
    rows = []
    for i in range(n):
        name = f"PAT_{i}_{i}_{i}"
        skin = SKIN_TYPES[i % len(SKIN_TYPES)]
        sex = "FEMALE" if i % 2 else "MALE"
        age = str(18 + (i * 7) % 70)
        rows.append(row(f"PAT_{i}", str(i), age, sex, skin, DIAGNOSTICS[i % len(DIAGNOSTICS)], f"{name}.png"))
        write_png(root / "images" / "imgs_part_1" / "imgs_part_1" / f"{name}.png", shade=(5 * i) % 250)
    write_csv(root / "metadata.csv", HEADER, rows)
    return root
