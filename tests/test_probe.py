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
    report, records = run_probe(StatedSexModel(), _rows(), dataset="t", n_bootstrap=200)
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
    report, _ = run_probe(IgnoringModel(), _rows(), dataset="t", n_bootstrap=200)
    for attribute in ("sex", "age_group"):
        entry = report["attributes"][attribute]
        assert entry["flip_rate"]["value"] == 0.0 and entry["flip_rate"]["ci"] == [0.0, 0.0]
        assert entry["accuracy_change"]["value"] == 0.0 and not entry["flagged"]


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
    report, _ = run_probe(StatedSexModel(), _rows(), dataset="synthetic", n_bootstrap=100)
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
