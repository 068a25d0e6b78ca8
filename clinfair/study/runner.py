"""Running a study: every (method, seed) run, resumable, then the report and the leaderboard.

A study trains every method for every seed from the same initial model, with the same
recipe (budget, rewards) and, for a given seed, the same data order, then evaluates each
policy on the same held-out rows (``clinfair eval``). Each run is named ``<method>-seed<N>``:
its model goes to ``OUT/models/<name>/`` (so the leaderboard's Model column reads the run's
name), its evaluation to ``OUT/runs/<name>/eval/`` and, once finished, its timings to
``OUT/runs/<name>/run.json``; a killed study started again skips the finished runs.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import huggingface_hub.utils as hub_utils
from tqdm.auto import tqdm

from clinfair.benchmark.evaluate import evaluate
from clinfair.benchmark.generation import GenerationSettings
from clinfair.benchmark.models import build_tiny_vlm, load_model_and_processor
from clinfair.benchmark.runner import EvalRequest
from clinfair.commands.eval import summary_table
from clinfair.core.errors import ClinfairError
from clinfair.core.io import atomic_write_json, atomic_write_text
from clinfair.leaderboard.build import build_leaderboard
from clinfair.study.config import StudyConfig
from clinfair.tasks.prepare import load_prepared, prepare
from clinfair.trainers.build import build_trainer
from clinfair.trainers.recipes import load_recipe
from clinfair.trainers.warmstart import format_warm_start


def run_name(method: str, seed: int) -> str:
    return f"{method}-seed{seed}"


def prepare_inputs(config: StudyConfig, out: Path) -> tuple[Path, Path]:
    """Prepared data (``OUT/data/<task>``) and the shared initial model; both built once.
    Also sets torch's CPU threads for the whole study (``StudyConfig.torch_threads``)."""
    set_torch_threads(config.torch_threads)
    from clinfair.tasks import get_task

    data_dir = out / "data"
    folder = data_dir / config.task
    stamp = out / "inputs.json"
    inputs = {
        "task": config.task,
        "task_options": config.task_options,
        "model": config.model,
        "warm_start_steps": config.warm_start_steps,
    }
    if stamp.exists() and json.loads(stamp.read_text()) != json.loads(json.dumps(inputs)):
        raise ClinfairError(f"{out} holds a study with other data or model ({stamp}); use another --out")
    if not (folder / "dataset_dict.json").exists():
        tqdm.write(f"[study] preparing {config.task} with {config.task_options or 'its default options'}")
        prepare(get_task(config.task), folder, options=config.task_options, overwrite=True, progress=False)
    model = Path(config.model) if config.model != "tiny" else _tiny_warm_start(config, out, folder)
    atomic_write_json(stamp, inputs)
    return data_dir, model


def _tiny_warm_start(config: StudyConfig, out: Path, data: Path) -> Path:
    """A tiny random VLM, taught the answer format (and true labels) for a few supervised steps."""

    base, warm = out / "models" / "base", out / "models" / "warm-start"
    if not (base / "config.json").exists():
        build_tiny_vlm(base)
    if config.warm_start_steps == 0:
        return base
    if not (warm / "config.json").exists():
        tqdm.write(f"[study] supervised warm start ({config.warm_start_steps} steps)")
        model, processor = load_model_and_processor(base)
        train = load_prepared(data)["train"]
        format_warm_start(
            model,
            processor,
            [train[i] for i in range(len(train))],
            steps=config.warm_start_steps,
            true_labels=True,
        )
        model.save_pretrained(warm)
        processor.save_pretrained(warm)
    return warm


def train_run(
    config: StudyConfig,
    method: str,
    seed: int,
    model: Path,
    data_dir: Path,
    folder: Path,
    timings: dict[str, float] | None = None,
) -> Path:
    """Train one run into ``folder``; a finished model is reused, an unfinished one restarted.
    ``timings`` receives ``callback_s``, the seconds spent in fairness evaluations."""
    timings = {} if timings is None else timings
    from transformers import PrinterCallback

    if (folder / "model.safetensors").exists():
        return folder
    if folder.exists():
        shutil.rmtree(folder)  # a killed run: its partial logs would mix with the new ones
    recipe = recipe_for(config, method, seed, model, data_dir, folder)
    trainer = build_trainer(recipe)
    trainer.remove_callback(PrinterCallback)  # progress is the study's; logs go to fairness.jsonl
    callback_s = _time_fairness_evaluations(trainer)
    trainer.train()
    trainer.save_model(str(folder))
    timings["callback_s"] = sum(callback_s)
    return folder


def recipe_for(config: StudyConfig, method: str, seed: int, model: Path, data_dir: Path, folder: Path):
    """The resolved recipe of one run: the study's recipe and overrides, then the run's own keys."""

    overrides = {
        **config.overrides,
        "model": str(model),
        "data_dir": str(data_dir),
        "output_dir": str(folder),
        "seed": seed,
        "tasks": [config.task],
    }
    return load_recipe(config.recipe, method, [f"{k}={json.dumps(v)}" for k, v in overrides.items()])


def _time_fairness_evaluations(trainer) -> list[float]:
    """Seconds of each fairness-callback evaluation (where a run's time goes)."""
    from clinfair.trainers.callbacks import FairnessCallback

    seconds: list[float] = []
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, FairnessCallback):
            evaluate = callback.evaluate

            def timed(evaluate=evaluate):
                start = time.perf_counter()
                try:
                    return evaluate()
                finally:
                    seconds.append(time.perf_counter() - start)

            callback.evaluate = timed
    return seconds


def evaluate_run(
    config: StudyConfig, model: Path, name: str, method: str | None, data_dir: Path, folder: Path
) -> Path:
    """Evaluate one model on the study's split (``clinfair.benchmark.evaluate``); its metrics table goes
    to ``folder/summary.txt``, not the terminal (the study's report is what a person reads)."""

    request = EvalRequest(
        model=str(model),
        tasks=(config.task,),
        split=config.eval_split,
        limit=config.eval_limit,
        generation=GenerationSettings(
            max_new_tokens=config.max_new_tokens, batch_size=config.eval_batch_size
        ),
        backend="hf",
        dtype="auto",
        run_name=name,
        method=method,
        scores="direct",
    )
    results = evaluate(request, data_dir, folder, n_bootstrap=config.n_bootstrap, progress=False)
    atomic_write_text(folder / "summary.txt", summary_table(results) + "\n")
    return folder


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Silence transformers', datasets' and the Hub's progress bars and warnings for a study:
    each of its dozens of loads and saves would print its own (a run's details go to its folder)."""
    import datasets
    from transformers.utils import logging as hf_logging

    verbosity, bars_on = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    datasets_bars_on, hub_bars_on = (
        datasets.is_progress_bar_enabled(),
        not hub_utils.are_progress_bars_disabled(),
    )
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    hub_utils.disable_progress_bars()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars_on:
            hf_logging.enable_progress_bar()
        if datasets_bars_on:
            datasets.enable_progress_bars()
        if hub_bars_on:
            hub_utils.enable_progress_bars()


def run_folder(out: Path, method: str, seed: int) -> Path:
    """Where a run's evaluation and ``run.json`` go."""
    return out / "runs" / run_name(method, seed)


def model_folder(out: Path, method: str, seed: int) -> Path:
    """Where a run's trained model (and its ``fairness.jsonl``) goes: named after the run."""
    return out / "models" / run_name(method, seed)


def run_study(
    config: StudyConfig, out: Path, progress: bool = True, bar: Any = None, leaderboard: bool = True
) -> dict[str, Any]:
    """Every (method, seed) run not yet finished, then the report (``report.md``, ``report.json``)
    and, with ``leaderboard``, the runs' leaderboard in ``OUT/leaderboard/``; returns the report's JSON.

    Progress is one bar, advanced once per run: ``bar`` (a tqdm the caller owns, e.g. the
    demo's, which counts its own steps too) or one made here."""
    from clinfair.study.report import render, summarise  # clinfair.study.report imports this module

    config.check_recipes()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "study.json", config.to_dict())
    runs = [(method, seed) for seed in config.seed_list for method in config.methods]
    own_bar = bar is None
    if own_bar:
        bar = tqdm(total=len(runs), desc="[study] runs", unit="run", disable=not progress)
    with quiet_libraries():
        data_dir, model = prepare_inputs(config, out)
        pending = [(m, s) for m, s in runs if not (run_folder(out, m, s) / "run.json").exists()]
        bar.update(len(runs) - len(pending))
        workers = config.worker_count(len(pending))
        if workers == 1:
            for method, seed in pending:
                bar.set_postfix_str(f"{run_name(method, seed)}: training and evaluating")
                run_one(config, method, seed, model, data_dir, out)
                bar.update()
        else:
            _run_in_processes(config, pending, model, data_dir, out, workers, bar)
    if own_bar:
        bar.close()
    summary = summarise(config, out)
    atomic_write_json(out / "report.json", summary)
    atomic_write_text(out / "report.md", render(summary))
    if leaderboard:
        build_study_leaderboard(config, out)
    return summary


def run_one(config: StudyConfig, method: str, seed: int, model: Path, data_dir: Path, out: Path) -> None:
    """Train and evaluate one run; its ``run.json`` (the finished marker, with timings) last."""
    name, folder = run_name(method, seed), run_folder(out, method, seed)
    start, timings = time.perf_counter(), {}
    trained = train_run(config, method, seed, model, data_dir, model_folder(out, method, seed), timings)
    train_s = time.perf_counter() - start
    evaluate_run(config, trained, name, method, data_dir, folder / "eval")
    atomic_write_json(
        folder / "run.json",
        {
            "method": method,
            "seed": seed,
            "train_s": train_s,
            "eval_s": time.perf_counter() - start - train_s,
            **timings,
        },
    )


def set_torch_threads(torch_threads: int | None) -> None:
    """torch's CPU threads for this process (``StudyConfig.torch_threads``; None: torch's choice)."""
    if torch_threads:
        import torch

        torch.set_num_threads(torch_threads)


def _run_quietly(*args: Any) -> None:
    with quiet_libraries():
        run_one(*args)


def _run_in_processes(
    config: StudyConfig,
    pending: list[tuple[str, int]],
    model: Path,
    data_dir: Path,
    out: Path,
    workers: int,
    bar: Any,
) -> None:
    """The pending runs, ``workers`` at a time, each in a fresh (spawned: torch and fork do not
    mix) process; the first failure stops the rest and is raised here."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=set_torch_threads, initargs=(config.torch_threads,)
    ) as pool:
        futures = {
            pool.submit(_run_quietly, config, method, seed, model, data_dir, out): run_name(method, seed)
            for method, seed in pending
        }
        bar.set_postfix_str(f"{workers} runs at a time")
        try:
            for future in as_completed(futures):
                future.result()
                bar.set_postfix_str(f"{futures[future]} done")
                bar.update()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def build_study_leaderboard(config: StudyConfig, out: Path, extra: list[Path] = ()) -> Path:
    """The leaderboard of the study's finished runs (and ``extra`` evaluation folders) beside
    ``report.md``, with each run's training dynamics labelled by its name."""

    finished = [
        (method, seed)
        for seed in config.seed_list
        for method in config.methods
        if (run_folder(out, method, seed) / "run.json").exists()
    ]
    dynamics = [
        f"{run_name(m, s)}={model_folder(out, m, s) / 'fairness.jsonl'}"
        for m, s in finished
        if (model_folder(out, m, s) / "fairness.jsonl").exists()
    ]
    folders = [*extra, *(run_folder(out, m, s) / "eval" for m, s in finished)]
    build_leaderboard(folders, out / "leaderboard", dynamics=dynamics)
    return out / "leaderboard"
