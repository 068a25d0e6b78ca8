"""Bad-input corpus of ``clinfair train``: a checkpoint never runs code, a resumed or re-run training
logs each step once, a value no run can use is one line naming it (see tests/bad_inputs.py).
Plus the JSON advantage state, which must load back exactly."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import warnings
from pathlib import Path

import conftest
import numpy as np
import pytest
from bad_inputs import assert_one_line_error, cases, run_cli, snapshot
from clinfair.trainers.advantage import FairAdvantageConfig, FairAdvantageScaler, GroupDROWeights
from clinfair.trainers.gathered import STATE_FILE

RECIPE = Path(__file__).resolve().parents[1] / "trainers" / "recipes" / "tiny-cpu.yaml"
LEGACY_STATE_FILE = "clinfair_advantage_state.pkl"  # what clinfair <= 0.1.0 saved (a pickle)


def train_args(model, data_dir, output_dir, *extra):
    steps = ("max_steps=2", "train_limit=8", "eval_limit=4", "fairness_eval_steps=1")
    checkpoints = ("save_strategy=steps", "save_steps=1")
    return conftest.train_args(model, data_dir, output_dir, *steps, *checkpoints, *extra)


def steps(output_dir: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (output_dir / "fairness.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained(tiny_vlm, data_dir, tmp_path_factory) -> Path:
    """Two FairGRPO steps, a checkpoint after each, fairness evaluated at steps 0, 1 and 2."""
    out = tmp_path_factory.mktemp("trained") / "run"
    assert run_cli_quiet(train_args(tiny_vlm, data_dir, out)) == 0
    assert steps(out) == [0, 1, 2] and (out / "checkpoint-1" / STATE_FILE).is_file()
    return out


def run_cli_quiet(argv) -> int:
    from clinfair.cli import main

    return main([str(a) for a in argv])


class _Payload:
    """A pickle that, when loaded, creates a folder: the proof that loading ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


# -- no code execution from checkpoints ------------------------------------------------------------


def pickled_state_in_a_checkpoint_is_never_loaded(tiny_vlm, data_dir, trained, tmp_path, capsys):
    run = shutil.copytree(trained, tmp_path / "run")
    checkpoint = run / "checkpoint-1"
    (checkpoint / STATE_FILE).unlink()
    marker = tmp_path / "code-ran"
    (checkpoint / LEGACY_STATE_FILE).write_bytes(pickle.dumps(_Payload(marker)))
    code, _, err = run_cli(
        capsys, *train_args(tiny_vlm, data_dir, run, f"resume_from_checkpoint={checkpoint}")
    )
    assert_one_line_error(code, err, "train", LEGACY_STATE_FILE, "never loaded", "delete it")
    assert not marker.exists(), "the pickle was loaded: a downloaded checkpoint could run code"


def unknown_state_version_is_a_clear_error(tiny_vlm, data_dir, trained, tmp_path, capsys):
    run = shutil.copytree(trained, tmp_path / "run")
    checkpoint = run / "checkpoint-1"
    document = json.loads((checkpoint / STATE_FILE).read_text())
    (checkpoint / STATE_FILE).write_text(json.dumps({**document, "version": 99}))
    code, _, err = run_cli(
        capsys, *train_args(tiny_vlm, data_dir, run, f"resume_from_checkpoint={checkpoint}")
    )
    assert_one_line_error(code, err, "train", str(checkpoint / STATE_FILE), "version 99 is unknown")


def missing_checkpoint_folder(tiny_vlm, data_dir, trained, tmp_path, capsys):
    code, _, err = run_cli(
        capsys,
        *train_args(tiny_vlm, data_dir, tmp_path / "run", f"resume_from_checkpoint={tmp_path / 'nope'}"),
    )
    assert_one_line_error(code, err, "train", f"resume_from_checkpoint {tmp_path / 'nope'} is not a folder")


# -- training logs survive resume ---------------------------------------------------------------------


def resume_logs_each_step_once(tiny_vlm, data_dir, trained, tmp_path, capsys):
    run = shutil.copytree(trained, tmp_path / "run")
    code, _, err = run_cli(
        capsys, *train_args(tiny_vlm, data_dir, run, f"resume_from_checkpoint={run / 'checkpoint-1'}")
    )
    assert code == 0, err
    assert steps(run) == [0, 1, 2]
    lines, straight = (
        (run / "fairness.jsonl").read_text().splitlines(),
        (trained / "fairness.jsonl").read_text().splitlines(),
    )
    assert lines[:2] == straight[:2]  # steps up to the checkpoint are kept as they were logged
    # the statistics window went on from the checkpoint's: two batches of prompts, as without the interruption
    resumed = json.loads((run / "checkpoint-2" / STATE_FILE).read_text())["state"]
    uninterrupted = json.loads((trained / "checkpoint-2" / STATE_FILE).read_text())["state"]
    assert resumed["step"] == uninterrupted["step"] == 2
    prompts = {d: (v[0], v[2]) for d, v in uninterrupted["domain_sums"]}
    assert {d: (v[0], v[2]) for d, v in resumed["domain_sums"]} == prompts


def rerun_with_overwrite_logs_each_step_once(tiny_vlm, data_dir, trained, tmp_path, capsys):
    run = shutil.copytree(trained, tmp_path / "run")
    code, _, err = run_cli(capsys, *train_args(tiny_vlm, data_dir, run), "--overwrite")
    assert code == 0, err
    assert steps(run) == [0, 1, 2]


def second_train_into_the_same_folder_is_refused(tiny_vlm, data_dir, trained, tmp_path, capsys):
    """The same command again (or another method into the same folder) never replaces a run unasked."""
    run = shutil.copytree(trained, tmp_path / "run")
    before = snapshot(run)
    code, _, err = run_cli(capsys, *train_args(tiny_vlm, data_dir, run))
    assert_one_line_error(
        code,
        err,
        "train",
        f"output_dir {run} already holds a training run",
        "resume_from_checkpoint=true",
        "--overwrite",
    )
    assert snapshot(run) == before


def folder_of_other_files_is_never_replaced(tiny_vlm, data_dir, trained, tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    code, _, err = run_cli(capsys, *train_args(tiny_vlm, data_dir, folder), "--overwrite")
    assert_one_line_error(
        code, err, "train", f"output_dir {folder} is not empty and holds no clinfair train run"
    )
    assert (folder / "notes.txt").read_text() == "mine"


# -- values no run can use: one line naming the key and where it came from -----------------------------


def negative_learning_rate(tiny_vlm, data_dir, trained, tmp_path, capsys):
    code, _, err = run_cli(capsys, *train_args(tiny_vlm, data_dir, tmp_path / "run", "learning_rate=-1"))
    assert_one_line_error(
        code, err, "train", "override 'learning_rate=-1': learning_rate must be a number > 0"
    )
    assert not (tmp_path / "run").exists()


def one_generation_per_prompt(tiny_vlm, data_dir, trained, tmp_path, capsys):
    code, _, err = run_cli(capsys, *train_args(tiny_vlm, data_dir, tmp_path / "run", "num_generations=1"))
    assert_one_line_error(
        code, err, "train", "override 'num_generations=1': num_generations must be an integer >= 2"
    )


def misspelt_override_is_blamed_on_the_override(tiny_vlm, data_dir, trained, tmp_path, capsys):
    code, _, err = run_cli(capsys, *train_args(tiny_vlm, data_dir, tmp_path / "run", "lerning_rate=1e-5"))
    assert_one_line_error(
        code,
        err,
        "train",
        "override 'lerning_rate=1e-5': unknown recipe key(s) 'lerning_rate' (did you mean 'learning_rate'?)",
    )
    assert str(RECIPE) not in err and "tiny-cpu.yaml" not in err


def bad_value_in_a_recipe_file_is_blamed_on_the_file(tiny_vlm, data_dir, trained, tmp_path, capsys):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text(RECIPE.read_text().replace("learning_rate: 1.0e-5", "learning_rate: -1.0e-5"))
    argv = train_args(tiny_vlm, data_dir, tmp_path / "run")
    argv[argv.index("tiny-cpu")] = str(recipe)
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, "train", f"{recipe}: learning_rate must be a number > 0, got -1e-05")


@cases(
    pickled_state_in_a_checkpoint_is_never_loaded,
    unknown_state_version_is_a_clear_error,
    missing_checkpoint_folder,
    resume_logs_each_step_once,
    rerun_with_overwrite_logs_each_step_once,
    second_train_into_the_same_folder_is_refused,
    folder_of_other_files_is_never_replaced,
    negative_learning_rate,
    one_generation_per_prompt,
    misspelt_override_is_blamed_on_the_override,
    bad_value_in_a_recipe_file_is_blamed_on_the_file,
)
def test_train_bad_input(case, tiny_vlm, data_dir, trained, tmp_path, capsys):
    case(tiny_vlm, data_dir, trained, tmp_path, capsys)


# -- the advantage state as JSON ---------------------------------------------------------------------------


def _batches(seed: int, count: int, prompts: int = 10, g: int = 4):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        rewards = rng.integers(0, 3, size=prompts * g) / 2.0
        rewards[rng.random(prompts * g) < 0.05] = np.nan  # unscorable rollouts
        domains = np.repeat(rng.choice(["ham10000", "isic2020"], size=prompts), g).tolist()
        groups = np.repeat(rng.choice(["F|A1", "M|A3", "UNK"], size=prompts), g).tolist()
        yield rewards, domains, groups


@pytest.mark.parametrize(
    "config",
    [
        FairAdvantageConfig(),
        FairAdvantageConfig.reference(),
        FairAdvantageConfig(grouping="clusters", window="exponential", decay=0.9, max_history=12),
    ],
    ids=["paper", "reference", "clusters-bounded-history"],
)
def test_advantage_state_round_trips_exactly(config):
    """Saved mid-run and loaded from the JSON text, the scaler continues with bit-identical advantages."""
    from clinfair.trainers.advantage import advantage_state_from_json, advantage_state_to_json

    warnings.simplefilter("ignore")
    batches = list(_batches(0, 8))
    scaler = FairAdvantageScaler(config)
    for batch in batches[:4]:
        scaler(*batch, num_generations=4)
    text = json.dumps(advantage_state_to_json(scaler))
    restored = advantage_state_from_json(json.loads(text))
    assert json.dumps(advantage_state_to_json(restored)) == text
    for batch in batches[4:]:
        np.testing.assert_array_equal(restored(*batch, num_generations=4), scaler(*batch, num_generations=4))
    assert advantage_state_to_json(restored) == advantage_state_to_json(scaler)

    weights = GroupDROWeights(0.3)
    weights.update(["a/F|A1", "b/UNK", "a/F|A1"], [1.0, 0.0, 0.5])
    loaded = advantage_state_from_json(json.loads(json.dumps(advantage_state_to_json(weights))))
    assert loaded.q == weights.q and loaded.eta == weights.eta


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": 2, "kind": "FairAdvantageScaler", "state": {}}, "version 2 is unknown"),
        ({"kind": "FairAdvantageScaler"}, "no version"),
        ({"version": 1, "kind": "Pickle", "state": {}}, "unknown advantage state kind 'Pickle'"),
        (
            {"version": 1, "kind": "FairAdvantageScaler", "state": {"step": 1}},
            "damaged FairAdvantageScaler state",
        ),
    ],
)
def test_unreadable_advantage_state_is_a_clear_error(document, message):
    from clinfair.trainers.advantage import AdvantageStateError, advantage_state_from_json

    with pytest.raises(AdvantageStateError, match=message):
        advantage_state_from_json(document)
