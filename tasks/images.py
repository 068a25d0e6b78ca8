"""Images as a model reads them: RGB, 8 bits per channel, scaled from what the file holds.

Every image that reaches a model (``clinfair eval``, the probe, training, the lm-eval
harness, the warm start) goes through :func:`to_rgb`. A prepared dataset keeps each image's
original bytes (``clinfair.tasks.builders.base.load_image``), so what a file holds arrives
here as PIL decodes it:

* ``RGB`` is returned as is; ``L``, ``1``, ``LA``, ``RGBA``, ``CMYK``, ``YCbCr`` and the
  other 8-bit modes are converted by PIL (alpha dropped);
* palette images (``P``, ``PA``) are converted through their palette (each index becomes
  its colour), never read as grey levels;
* 16-bit (``I;16``, ``I;16B``, ``I;16L``: a 16-bit grayscale PNG, as DICOM exports are,
  including 12-bit values stored in 16 bits), 32-bit integer (``I``) and float (``F``)
  grayscale images are **min-max scaled** to 0-255: the smallest finite value becomes 0,
  the largest 255, linearly in between (NaN becomes 0; a constant image becomes 0).
  PIL's own ``convert("RGB")`` clips such values at 255 instead: on a 12-bit image 94 % of
  the pixels become white.

Min-max scaling is the windowing of an image that carries no window of its own. Tasks whose
raw data carries one apply it when they are prepared and store 8-bit images: VinDr-Mammo
applies each DICOM's VOI LUT, CT hemorrhage its brain window (``clinfair.tasks.builders``).
An own table task (``clinfair.tasks.builders.table``) whose files are 16-bit gets min-max
per image; to use a clinical window, export the images windowed (8-bit).
"""

from __future__ import annotations

import io
from typing import Any

#: PIL modes holding more than 8 bits per pixel, scaled by :func:`to_rgb` instead of clipped.
WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def to_rgb(image):
    """``image`` (a PIL image) as an 8-bit RGB image, scaled as the module says; RGB is returned as is."""
    from PIL import Image

    if image.mode == "RGB":
        return image
    if image.mode in WIDE_MODES:
        return Image.fromarray(_min_max_uint8(image)).convert("RGB")
    if image.mode in ("P", "PA"):
        return image.convert("RGBA").convert("RGB")
    return image.convert("RGB")


def _min_max_uint8(image):
    """The pixels of a one-channel wide image, min-max scaled to uint8 (see the module)."""
    import numpy as np

    values = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)
    low, high = values[finite].min(), values[finite].max()
    scaled = np.zeros(values.shape, dtype=np.float64)
    if high > low:
        scaled = (np.where(finite, values, low) - low) / (high - low) * 255.0
    return np.rint(scaled).astype(np.uint8)


def rgb_encoded(entry: dict[str, Any]) -> dict[str, Any]:
    """A ``datasets.Image`` entry (``{"bytes", "path"}``, undecoded) as :func:`to_rgb` sees it.

    Images PIL reads as 8-bit RGB or grayscale (``RGB``, ``L``) keep their bytes; the others are
    converted by :func:`to_rgb` and stored as PNG (lossless): a dataset built from entries
    that keep their bytes is never re-compressed.
    """
    from PIL import Image

    data = entry.get("bytes")
    if data is None:
        with open(entry["path"], "rb") as handle:
            data = handle.read()
    with Image.open(io.BytesIO(data)) as image:
        if image.mode in ("RGB", "L"):
            return {"bytes": data, "path": None}
        image.load()
        buffer = io.BytesIO()
        to_rgb(image).save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}
