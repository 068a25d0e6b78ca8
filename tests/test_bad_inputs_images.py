"""Bad-input corpus of image kinds: 16-bit, 12-bit-in-16, 32-bit integer, float and palette images
reach the model as RGB, scaled, never clipped (``clinfair.tasks.images.to_rgb``).

Each kind is built with numpy, saved as a file (PNG, or TIFF for float) and read back the way
a prepared dataset holds it (``datasets.Image``); the test then checks the pixel statistics
of what each consumer passes to the processor: ``clinfair eval`` (HF and vLLM backends), the
lm-eval harness, the warm start and GRPO training (``to_grpo_dataset``).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

SIZE = (64, 64)


def _ramp(low: float, high: float, dtype) -> np.ndarray:
    """A horizontal ramp from ``low`` (left column) to ``high`` (right column)."""
    row = np.linspace(low, high, SIZE[0])
    return np.tile(row, (SIZE[1], 1)).astype(dtype)


def _expected_ramp() -> np.ndarray:
    """What a min-max scaled ramp reads as in 8 bits: 0 on the left to 255 on the right, by hand."""
    return np.tile(np.rint(np.arange(SIZE[0]) * 255.0 / (SIZE[0] - 1)), (SIZE[1], 1))


def _saved(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def twelve_bit_in_sixteen() -> bytes:  # DICOM exports: 0..4095 stored in a 16-bit PNG
    return _saved(Image.fromarray(_ramp(0, 4095, np.uint16)))


def full_sixteen_bit() -> bytes:
    return _saved(Image.fromarray(_ramp(0, 65535, np.uint16)))


def sixteen_bit_with_an_offset() -> bytes:  # a CT-like range away from zero
    return _saved(Image.fromarray(_ramp(1000, 3000, np.uint16)))


def thirty_two_bit_integer() -> bytes:  # mode I
    return _saved(Image.fromarray(_ramp(-2000, 70000, np.int32)), "TIFF")


def float_image() -> bytes:  # mode F, e.g. a normalised export
    return _saved(Image.fromarray(_ramp(-1.5, 2.5, np.float32)), "TIFF")


WIDE_KINDS = [
    twelve_bit_in_sixteen,
    full_sixteen_bit,
    sixteen_bit_with_an_offset,
    thirty_two_bit_integer,
    float_image,
]


def decoded(data: bytes) -> Image.Image:
    """The image as a prepared dataset gives it back (``datasets.Image`` decoding)."""
    import datasets

    return datasets.Image().decode_example({"bytes": data, "path": None})


def consumers():
    """Each place that hands a row's images to a model, as a function image -> RGB image."""
    from clinfair.benchmark.generation import _rgb
    from clinfair.benchmark.lmeval.harness import doc_to_image

    return {
        "eval (HF and vLLM backends, the training callback)": _rgb,
        "lm-eval harness": lambda image: doc_to_image({"images": [image]})[0],
    }


@pytest.mark.parametrize("kind", WIDE_KINDS, ids=[k.__name__ for k in WIDE_KINDS])
def test_wide_images_are_scaled_not_clipped(kind):
    image = decoded(kind())
    assert image.mode not in ("RGB", "L")  # really a wide image, as the file holds it
    for consumer, convert in consumers().items():
        rgb = convert(image)
        assert rgb.mode == "RGB", consumer
        pixels = np.asarray(rgb).astype(float)
        assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
        grey = pixels[..., 0]
        assert (grey == 255).mean() < 0.05, f"{consumer}: {(grey == 255).mean():.0%} of the pixels are white"
        np.testing.assert_allclose(grey, _expected_ramp(), atol=1, err_msg=consumer)
        assert abs(grey.mean() - 127.5) < 1.5, consumer


PALETTE = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255]  # black, red, green, blue


def palette_png() -> bytes:
    """Four vertical bands of palette indices 0-3 (16 columns each)."""
    image = Image.new("P", SIZE)
    image.putdata(np.tile(np.arange(4, dtype=np.uint8).repeat(16), (64, 1)).ravel().tolist())
    image.putpalette(PALETTE + [0] * (768 - len(PALETTE)))
    return _saved(image)


def test_palette_images_keep_their_colours():
    palette = PALETTE
    image = decoded(palette_png())
    assert image.mode == "P"
    for consumer, convert in consumers().items():
        pixels = np.asarray(convert(image))
        assert pixels.shape == (64, 64, 3), consumer
        for index in range(4):
            assert tuple(pixels[0, index * 16]) == tuple(palette[3 * index : 3 * index + 3]), consumer


def test_eight_bit_images_are_unchanged():
    grey = Image.fromarray(_ramp(0, 255, np.uint8))
    colour = Image.fromarray(np.stack([_ramp(0, 255, np.uint8)] * 3, axis=-1))
    for consumer, convert in consumers().items():
        assert convert(colour) is colour, consumer
        np.testing.assert_array_equal(np.asarray(convert(grey))[..., 1], np.asarray(grey), err_msg=consumer)


def test_constant_and_nan_images_do_not_fail():
    from clinfair.tasks.images import to_rgb

    flat = to_rgb(decoded(_saved(Image.fromarray(np.full(SIZE, 700, np.uint16)))))
    assert np.asarray(flat).max() == 0
    values = _ramp(0.0, 1.0, np.float32)
    values[0, 0] = np.nan
    with_nan = np.asarray(to_rgb(Image.fromarray(values)))[..., 0]
    assert with_nan[0, 0] == 0 and with_nan[0, -1] == 255


def test_training_dataset_reads_a_sixteen_bit_png_scaled(tmp_path):
    """``to_grpo_dataset`` (what TRL hands to the processor as is) converts wide and palette images to
    RGB; 8-bit ones keep their bytes."""
    import datasets
    from clinfair.tasks.schema import features
    from clinfair.trainers.data import to_grpo_dataset

    jpeg = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(jpeg, format="JPEG")
    rows = []
    for n, data in enumerate([twelve_bit_in_sixteen(), jpeg.getvalue(), palette_png()]):
        rows.append(
            {
                "id": f"r{n}",
                "dataset": "synthetic",
                "split": "train",
                "images": [{"bytes": data, "path": None}],
                "question": "Which?",
                "choices": ["a", "b"],
                "answer": ["a"],
                "sex": "F",
                "age": 40.0,
                "age_group": "A2",
                "attributes": {"_": None},
            }
        )
    split = datasets.Dataset.from_list(rows, features=features())
    converted = to_grpo_dataset(split, multi_label=False)
    first = converted[0]["images"][0]
    assert first.mode == "RGB"
    grey = np.asarray(first).astype(float)[..., 0]
    assert (grey == 255).mean() < 0.05
    np.testing.assert_allclose(grey, _expected_ramp(), atol=1)
    stored = converted.cast_column("images", datasets.List(datasets.Image(decode=False)))[1]["images"][0]
    assert stored["bytes"] == jpeg.getvalue()  # an 8-bit image is not re-encoded
    bands = np.asarray(converted[2]["images"][0])  # a palette image: its colours, not its indices
    assert [tuple(bands[0, 16 * index]) for index in range(4)] == [
        (0, 0, 0),
        (255, 0, 0),
        (0, 255, 0),
        (0, 0, 255),
    ]


def test_warm_start_converts_with_the_same_function():
    """The warm start builds its batches through ``to_rgb`` (no clipping ``convert("RGB")`` left)."""
    import inspect

    import clinfair.trainers.warmstart as warmstart

    source = inspect.getsource(warmstart)
    assert 'convert("RGB")' not in source and "to_rgb(" in source
