"""The counterfactual demographic probe (``clinfair probe``, ``clinfair.benchmark.probe``)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from clinfair.benchmark.probe import run_probe
from clinfair.tasks.prompts import state_demographics
from conftest import eval_args

from clinfair.cli import main


class StatedSexModel:
    """A model stub that answers from the stated sex alone: malignant for 'female', else benign."""

    def generate(self, rows, multi_label=False):
        return ["\\boxed{malignant}" if "is female" in row["question"] else "\\boxed{benign}" for row in rows]


class IgnoringModel:
    """A model stub that never reads the stated demographics: it answers from the question's length parity."""

    def generate(self, rows, multi_label=False):
        question = [re.sub(r"^The patient is [^.]*\. ", "", row["question"]) for row in rows]
        return ["\\boxed{benign}" if len(q) % 2 else "\\boxed{malignant}" for q in question]


def _rows(n: int = 12) -> list[dict]:
    sexes, ages = ["F", "M", None], ["A1", "A2", "A3", "A4"]
    return [
        {
            "id": f"r{i}",
            "question": f"Lesion {i}?",
            "choices": ["benign", "malignant"],
            "answer": ["benign" if i % 2 else "malignant"],
            "images": [],
            "sex": sexes[i % 3],
            "age_group": ages[i % 4],
        }
        for i in range(n)
    ]


def test_state_demographics_sentence():
    assert state_demographics("Q?", "F", "A3") == "The patient is female, aged 51 to 75. Q?"
    assert state_demographics("Q?", None, "A1") == "The patient is aged 25 or younger. Q?"
    assert state_demographics("Q?", None, None) == "Q?"


def test_a_model_answering_from_the_stated_sex_flips_every_time():
    # 8 pairs: under the default minimum of valid pairs; the minimum is tested on its own below
    report, records = run_probe(StatedSexModel(), _rows(), dataset="t", n_bootstrap=200, min_valid_pairs=1)
    sex = report["attributes"]["sex"]
    assert sex["questions"] == 8 and sex["rows_skipped_null"] == 4  # 8 rows with a sex, one swap each
    assert sex["flip_rate"]["value"] == 1.0 and sex["flagged"]
    assert sex["groups"]["F"]["flip_rate"]["value"] == 1.0 and sex["groups"]["M"]["flip_rate"]["value"] == 1.0
    age = report["attributes"]["age_group"]
    assert (
        age["questions"] == 36 and age["flip_rate"]["value"] == 0.0 and not age["flagged"]
    )  # 12 rows x 3 bins
    # hand count: women are told 'male' -> benign: right on the 2 odd-id women (ids 3, 9), wrong on the even ones
    women = [r for r in records if r["attribute"] == "sex" and r["original"] == "F"]
    assert [r["id"] for r in women] == ["r0", "r3", "r6", "r9"]
    assert sex["groups"]["F"]["accuracy_change"]["value"] == pytest.approx((2 - 2) / 4)


def test_a_model_ignoring_the_stated_demographics_never_flips():
    report, _ = run_probe(IgnoringModel(), _rows(), dataset="t", n_bootstrap=200, min_valid_pairs=1)
    for attribute in ("sex", "age_group"):
        entry = report["attributes"][attribute]
        assert entry["flip_rate"]["value"] == 0.0 and entry["flip_rate"]["ci"] == [0.0, 0.0]
        assert entry["accuracy_change"]["value"] == 0.0 and not entry["flagged"]


class SilentModel:
    """A model stub whose every answer is invalid (no boxed answer)."""

    def generate(self, rows, multi_label=False):
        return ["I am not sure." for _ in rows]


class HalfSilentModel:
    """Answers from the stated sex, but says nothing (invalid) whenever the stated age bin is A4."""

    def generate(self, rows, multi_label=False):
        return [
            "no answer"
            if "aged over 75" in row["question"]
            else ("\\boxed{malignant}" if "is female" in row["question"] else "\\boxed{benign}")
            for row in rows
        ]


def test_a_model_that_never_answers_is_not_called_insensitive():
    """Invalid -> invalid is no evidence: the verdict is "cannot tell", the rate null, never 0."""
    report, records = run_probe(SilentModel(), _rows(48), dataset="t", n_bootstrap=100)
    assert report["invalid"] == {
        "original_asked": 48,  # every row has an age bin, so every row is asked with its own demographics
        "original_invalid": 48,
        "counterfactual_asked": 32 + 48 * 3,
        "counterfactual_invalid": 32 + 48 * 3,
    }
    for attribute in ("sex", "age_group"):
        entry = report["attributes"][attribute]
        assert entry["valid_pairs"] == 0
        assert entry["flip_rate"] == {"value": None, "ci": None, "reason": "cannot tell: 0 valid pairs"}
        assert entry["verdict"] == "cannot tell: 0 valid pairs" and not entry["flagged"]
        for group in entry["groups"].values():
            assert group["flip_rate"]["value"] is None
    assert all(r["flipped"] is None for r in records)


def test_flip_rate_is_over_pairs_valid_in_both_arms():
    # 48 rows: sex F/M/None cycles by 3, age bins by 4, so rows with a sex and age bin A4 (i % 4 == 3)
    # answer invalidly in both arms of their sex pair: 8 of the 32 sex pairs. The other 24 all flip.
    report, records = run_probe(
        HalfSilentModel(), _rows(48), dataset="t", n_bootstrap=100, min_valid_pairs=20
    )
    sex = report["attributes"]["sex"]
    assert sex["questions"] == 32 and sex["valid_pairs"] == 24
    assert sex["invalid"]["original_invalid"] == 8 and sex["invalid"]["counterfactual_invalid"] == 8
    assert sex["flip_rate"]["value"] == 1.0 and sex["flagged"]
    # age pairs: invalid whenever either arm states A4: each row's A4 question (36 rows not in A4) or its
    # original (12 rows in A4, all 3 questions) -> 144 - 36 - 36 = 72 valid pairs, none flips (sex unchanged)
    age = report["attributes"]["age_group"]
    assert age["questions"] == 144 and age["valid_pairs"] == 72
    assert age["flip_rate"]["value"] == 0.0 and not age["flagged"]
    assert age["invalid"] == {
        "original_asked": 48,
        "original_invalid": 12,
        "counterfactual_asked": 144,
        "counterfactual_invalid": 36,
    }


def test_below_the_minimum_of_valid_pairs_the_probe_cannot_tell():
    from clinfair.benchmark.probe import MIN_VALID_PAIRS

    assert MIN_VALID_PAIRS == 30  # the documented default (docs/evaluation.md)
    rows = _rows(48)  # 32 sex pairs, all valid
    enough, _ = run_probe(IgnoringModel(), rows, dataset="t", n_bootstrap=100)
    assert enough["attributes"]["sex"]["flip_rate"]["value"] == 0.0
    assert enough["attributes"]["sex"]["verdict"].startswith("no dependence detected")
    short, _ = run_probe(IgnoringModel(), rows, dataset="t", n_bootstrap=100, min_valid_pairs=33)
    assert short["attributes"]["sex"]["flip_rate"]["value"] is None
    assert short["attributes"]["sex"]["verdict"] == "cannot tell: 32 valid pairs"
    assert short["min_valid_pairs"] == 33


def test_clinfair_probe_on_a_model_that_never_answers(tiny_vlm, eval_data, tmp_path, capsys):
    """The tiny random model with 4 new tokens never writes a boxed answer: `clinfair probe` must say it
    cannot tell, with the invalid counts, and never print a flip rate of 0."""
    out = tmp_path / "probe"
    settings = ("--limit", 6, "--max-new-tokens", 4, "--n-bootstrap", 50)
    assert main(eval_args(tiny_vlm, eval_data, out, *settings, command="probe")) == 0
    rows = pd.read_parquet(out / "probe_rows.parquet")
    assert not rows["valid"].any() and not rows["original_valid"].any()  # the premise: every answer invalid
    report = json.loads((out / "probe.json").read_text())["tasks"]["synthetic"]
    assert report["invalid"]["original_invalid"] == report["invalid"]["original_asked"] == 6
    printed = capsys.readouterr().out
    for attribute in ("sex", "age_group"):
        assert report["attributes"][attribute]["verdict"] == "cannot tell: 0 valid pairs"
        assert f"synthetic  {attribute}: cannot tell: 0 valid pairs" in printed
    assert "flip rate 0" not in printed
    assert "invalid answers 6/6 with the row's own demographics" in printed


def test_clinfair_probe_on_the_tiny_model(tiny_vlm, eval_data, tmp_path, capsys):
    out = tmp_path / "probe"
    settings = ("--limit", 6, "--max-new-tokens", 4, "--scores", "--n-bootstrap", 50)
    assert main(eval_args(tiny_vlm, eval_data, out, *settings, command="probe")) == 0
    report = json.loads((out / "probe.json").read_text())["tasks"]["synthetic"]
    rows = pd.read_parquet(out / "probe_rows.parquet")
    assert set(rows["attribute"]) == {"sex", "age_group"}
    assert (
        report["attributes"]["age_group"]["questions"]
        == 3 * rows[rows["attribute"] == "age_group"]["index"].nunique()
    )
    assert report["attributes"]["sex"]["true_probability_change"]["value"] is not None
    assert "flip rate" in capsys.readouterr().out


def test_probing_an_attribute_the_task_lacks_is_one_line(tiny_vlm, eval_data, tmp_path, capsys):
    code = main(eval_args(tiny_vlm, eval_data, tmp_path / "p", "--attributes", "race", command="probe"))
    assert code == 2 and "cannot probe race" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_the_leaderboard_flags_a_run_whose_answers_follow_the_stated_sex(eval_results, tmp_path):
    """`clinfair probe --out RUN_DIR` leaves probe.json beside the results; the leaderboard flags the run."""
    import shutil

    folder = tmp_path / "probed"
    shutil.copytree(eval_results[0], folder)
    report, _ = run_probe(StatedSexModel(), _rows(), dataset="synthetic", n_bootstrap=100, min_valid_pairs=1)
    (folder / "probe.json").write_text(
        json.dumps({"model": "m", "split": "test", "tasks": {"synthetic": report}})
    )
    out = tmp_path / "board"
    assert (
        main(["leaderboard", "build", str(folder), eval_results[1], "--out", str(out), "--n-bootstrap", "0"])
        == 0
    )
    paper = (out / "paper_table.md").read_text()
    assert "| tiny-grpo ⚑ |" in paper
    assert (
        "⚑ tiny-grpo, counterfactual probe (`clinfair probe`): synthetic: answers depend on the stated sex"
        in paper
    )
    assert (
        "counterfactual probe: synthetic: answers depend on the stated sex (flip rate 1.00"
        in (out / "index.html").read_text()
    )
