"""The built-in ``synthetic`` task: no download, known ground truth, planted imbalance.

Each image is a skin-toned square with a round "lesion" in the centre. The lesion's
colour decides the label (reddish-dark = malignant, light tan = benign): a visual cue the
model must read from the pixels, since the question text is the same for every row.
Demographics are planted: groups (sex x age bin) have configurable shares of the data
(``group_shares``: minorities are under-represented) and, optionally, configurable
difficulty (``group_difficulty``: the share of that group's rows whose lesion colour is
drawn independently of the label, i.e. label noise). The background tone varies by age
bin, so the group is visible in the image, as it is in real photographs.

Group shift (``group_cues``; ``GROUP_SHIFT`` is the demo's): a group may read another cue,
the lesion's size (large = malignant). Then every cue is uninformative where it is not the
group's rule: size groups get a random lesion colour, colour groups a random size. Whatever
the majority learns then does not transfer to the minority, which is under-represented but
not intrinsically harder: both cues are read by a logistic regression on 8 x 8 pooled pixels
with the same accuracy (``tests/test_synthetic_shift.py``). ``group_degradation`` adds
per-group pixel noise (a group whose gap comes from image quality, not representation).

Planted ground truth of ``GROUP_SHIFT`` with the default shares: F|A4 and M|A4 (15 % of the
rows, the darkest background) read size; F|A1..A3 and M|A1..A3 (85 %) read colour; no label
noise or degradation unless ``group_difficulty`` / ``group_degradation`` say so.

Every row is drawn from its own generator seeded by ``(seed, row index)``: the data is
deterministic, rows do not depend on ``n``, and building streams in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from clinfair.tasks.builders.base import Builder, RawRecord, assign_split, encode_png
from clinfair.tasks.schema import AGE_GROUPS

#: Age range (years) drawn uniformly inside each of the paper's bins.
_AGE_RANGES = {"A1": (18, 25), "A2": (26, 50), "A3": (51, 75), "A4": (76, 90)}
_BENIGN_RGB = np.array([205, 160, 110], dtype=np.float64)
_MALIGNANT_RGB = np.array([110, 30, 35], dtype=np.float64)
_NEUTRAL_RGB = (_BENIGN_RGB + _MALIGNANT_RGB) / 2
_BACKGROUND_BY_AGE = {"A1": 235, "A2": 215, "A3": 195, "A4": 175}
#: Lesion radius (fraction of the image side) when size is a cue: the "D" of the ABCD rule.
_SMALL_RADIUS, _LARGE_RADIUS = (0.14, 0.2), (0.3, 0.36)
CUES = ("colour", "size")

#: The group-shift task of ``clinfair demo`` and ``configs/studies/group_shift.yaml``: the
#: oldest age bin (15 % of the rows, its own background tone) reads the lesion's size, every
#: other group its colour. Each cue is uninformative where it is not the rule.
GROUP_SHIFT = {"group_cues": {"F|A4": "size", "M|A4": "size"}}


class SyntheticBuilder(Builder):
    """Generate the synthetic task from its options (see ``tasks/configs/synthetic.yaml``)."""

    def __init__(self, spec, raw_dir=None, **options: Any):
        super().__init__(spec, raw_dir, **options)
        shares = {str(k): float(v) for k, v in self.options["group_shares"].items()}
        for group in shares:
            sex, _, age_bin = group.partition("|")
            if sex not in ("F", "M") or age_bin not in AGE_GROUPS:
                raise ValueError(
                    f"synthetic: group {group!r} in group_shares is not of the form 'F|A1'..'M|A4'"
                )
        for option in ("group_difficulty", "group_cues", "group_degradation"):
            unknown = sorted(set(self.options.get(option) or {}) - set(shares))
            if unknown:
                raise ValueError(f"synthetic: {option} names groups {unknown} absent from group_shares")
        self.cues = {str(k): str(v) for k, v in (self.options.get("group_cues") or {}).items()}
        bad = sorted(set(self.cues.values()) - set(CUES))
        if bad:
            raise ValueError(f"synthetic: group_cues takes {list(CUES)}, got {bad}")
        self.degradation = {
            str(k): float(v) for k, v in (self.options.get("group_degradation") or {}).items()
        }
        if any(not v >= 0 for v in self.degradation.values()):
            raise ValueError("synthetic: group_degradation values are pixel-noise std devs >= 0")
        if int(self.options["n"]) < 1:
            raise ValueError("synthetic: n must be at least 1")
        total = sum(shares.values())
        if total <= 0 or any(v < 0 for v in shares.values()):
            raise ValueError("synthetic: group_shares must be non-negative and not all zero")
        self.groups = list(shares)
        self.probabilities = np.array([shares[g] / total for g in self.groups])

    def records(self) -> Iterator[RawRecord]:
        for index in range(int(self.options["n"])):
            yield RawRecord("synthetic", index, {"index": index})

    def draw(self, index: int) -> dict[str, Any]:
        """The latent description of row ``index``: group, label, age and image pixels."""
        options = self.options
        rng = np.random.default_rng([int(options["seed"]), index])
        group = self.groups[rng.choice(len(self.groups), p=self.probabilities)]
        sex, _, age_bin = group.partition("|")
        malignant = bool(rng.random() < 0.5)
        noisy = rng.random() < float(options["group_difficulty"].get(group, 0.0))
        # the cue shows the label unless the row is noisy; group-shift draws come from their
        # own generator, so the default task's rows stay the same whatever the options
        shows = bool(rng.random() < 0.5) if noisy else malignant
        extra = np.random.default_rng([int(options["seed"]), index, 1])
        cue = self.cues.get(group, "colour")
        shows_malignant, large = shows, None
        if cue == "size":
            shows_malignant, large = bool(extra.random() < 0.5), shows  # colour uninformative here
        elif self.cues:
            large = bool(extra.random() < 0.5)  # size uninformative in the colour groups
        age = float(rng.integers(*_AGE_RANGES[age_bin], endpoint=True))
        if rng.random() < float(options["null_demographics"]):
            if rng.random() < 0.5:
                sex = None
            else:
                age = None
        size = int(options["image_size"])
        strength = float(options["cue_strength"])
        lesion = _NEUTRAL_RGB + strength * (
            (_MALIGNANT_RGB if shows_malignant else _BENIGN_RGB) - _NEUTRAL_RGB
        )
        pixels = np.empty((size, size, 3), dtype=np.float64)
        pixels[:] = _BACKGROUND_BY_AGE[age_bin] * np.array([1.0, 0.85, 0.75])
        yy, xx = np.mgrid[0:size, 0:size]
        radius = size * rng.uniform(0.22, 0.32)
        if large is not None:
            radius = size * extra.uniform(*(_LARGE_RADIUS if large else _SMALL_RADIUS))
        centre = size / 2 + rng.normal(0, size * 0.04, 2)
        inside = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2
        pixels[inside] = lesion
        pixels += rng.normal(0, 8, pixels.shape)
        if self.degradation.get(group):
            pixels += extra.normal(0, self.degradation[group], pixels.shape)
        return {
            "group": group,
            "sex": sex,
            "age": age,
            "malignant": malignant,
            "cue": cue,
            "shows_malignant_colour": shows_malignant,
            "large": large,
            "noisy": bool(noisy),
            "pixels": np.clip(pixels, 0, 255).astype(np.uint8),
        }

    def to_example(self, record: RawRecord) -> dict[str, Any]:
        index = record.data["index"]
        latent = self.draw(index)
        row_id = f"synthetic-{int(self.options['seed'])}-{index:07d}"
        return self.example(
            id=row_id,
            split=assign_split(row_id, int(self.options["seed"]), self.options["split_fractions"]),
            images=[encode_png(latent["pixels"], f"{row_id}.png")],
            answer=["malignant" if latent["malignant"] else "benign"],
            sex=latent["sex"],
            age=latent["age"],
        )
