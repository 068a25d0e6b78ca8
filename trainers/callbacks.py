"""Fairness during training: evaluate a validation split every N steps with the paper protocol.

:class:`FairnessCallback` generates greedily on the validation rows with the model being
trained (``clinfair.benchmark.generation.HFBackend`` on the unwrapped model and the trainer's
processor), parses the answers (``clinfair.tasks.prompts.parse_answer``), scores them with
``clinfair.benchmark.metrics.build_report`` and

* logs scalars through the trainer's loggers (``report_to``: TensorBoard, W&B, ...) under
  ``fairness/``: ``fairness/overall/<key>`` for every paper key (accuracy, f1, gaps, stds,
  ES, PP, EOD), ``fairness/<dataset>/<key>``, and per group
  ``fairness/<dataset>/<attribute>=<group>/f1`` (and ``/accuracy``);
* appends one JSON line per evaluation to ``output_file`` (the leaderboard's
  training-dynamics plot reads it). The file holds one line per step: when training
  begins, it is rewritten to the lines of the steps up to the one training starts from
  (none for a new run, those up to step k when resuming from checkpoint-k), so a resumed
  or re-run training never logs a step twice. The evaluation at the start is skipped when
  the kept lines already hold that step.

JSONL fields, one object per line:

``step``        global optimisation step at which the model was evaluated (0 = before training)
``epoch``       training epoch (float) or null
``method``      the training method (grpo, dr_grpo, fairgrpo, fairgrpo_nd, resampling, dro)
``split``       the evaluated split name (e.g. ``validation``)
``rows``        number of validation rows scored; ``invalid``: how many answers did not parse
``overall``     the paper protocol's overall values: ``accuracy f1 tpr fpr fdr acc_gap f1_gap
                tpr_gap fpr_gap fdr_gap acc_std f1_std acc_es f1_es pp eod`` (fractions; pp
                and eod ×100; null where undefined, see ``clinfair.benchmark.metrics``)
``by_dataset``  the same keys for each dataset
``selection``   only with ``select_by``: ``{"metric", "value", "selected", "best_step"}``; ``selected``
                means this step's model was saved to ``output_dir/best`` (``best/selection.json`` says
                which step and value it holds)
``groups``      ``{dataset: {attribute: {group: {"rows", "accuracy", "f1", "tpr", "fpr",
                "fdr"}}}}`` for the paper's attributes (sex: F, M; age_group: A1..A4); a
                group without rows has only ``rows: 0``
``clustering``  only for trainers that cluster (FairGRPO_ND, FairGRPO's UNK prompts), once they
                have: the latest training batch's K-means groups per domain, ``{dataset: {"k",
                "sizes", "means", "vectors", ["ari", "nmi"]}}`` (ARI / NMI against the true
                groups, when known; see ``FairGRPOTrainer.clustering_diagnostics``)

Under several processes every process generates for its share of the rows (equal shares,
so sharded models stay in step); the main process writes the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from accelerate.utils import broadcast_object_list, gather_object
from clinfair.benchmark.generation import GenerationSettings, HFBackend, _rgb, render_prompt
from clinfair.benchmark.metrics import PAPER_GROUP_METRICS, build_report, select_metrics
from clinfair.benchmark.metrics.registry import PAPER, VALIDATION
from clinfair.tasks.prompts import prediction_record
from clinfair.tasks.registry import get_task
from transformers import Trainer, TrainerCallback

from clinfair.core.io import atomic_write_json, atomic_write_text

#: The paper protocol's per-group values written under ``groups``.
GROUP_METRICS = PAPER_GROUP_METRICS


def _worst_group(metric: str):
    def worst(record: dict[str, Any]) -> float | None:
        values = [
            group[metric]
            for attributes in record["groups"].values()
            for groups in attributes.values()
            for group in groups.values()
            if group.get("rows") and group.get(metric) is not None
        ]
        return min(values) if values else None

    return worst


def _selectable() -> dict[str, tuple[bool, Any]]:
    table = {
        m.key: (m.higher_is_better, lambda record, key=m.key: record["overall"].get(key))
        for m in select_metrics(PAPER)
    }
    # the registry's validation metrics are worst_group_<paper group metric>
    table |= {
        m.key: (m.higher_is_better, _worst_group(m.key.removeprefix("worst_group_")))
        for m in select_metrics(VALIDATION)
    }
    return table


#: Validation metrics ``select_by`` may name, from the metric registry (``clinfair.benchmark.metrics.registry``):
#: every overall paper key and the worst group's accuracy or F1 over every task, attribute and group
#: with rows. Value: (higher is better, how to read it from a record).
SELECTABLE = _selectable()


def _lines_up_to(path: Path, step: int) -> tuple[list[str], bool]:
    """The complete lines of ``path`` whose step is <= ``step`` (the last line of each step), in
    step order, and whether ``step`` itself is among them. Unreadable lines are dropped."""
    if not path.is_file():
        return [], False
    by_step: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").split("\n")[:-1]:  # the piece after the last newline is torn
        try:
            record_step = json.loads(line).get("step")
        except (ValueError, AttributeError):
            continue
        if isinstance(record_step, int) and record_step <= step:
            by_step[record_step] = line + "\n"
    return [by_step[k] for k in sorted(by_step)], step in by_step


class FairnessCallback(TrainerCallback):
    """Every ``eval_steps`` steps (and at the start and end), score ``eval_sets`` with the paper protocol.

    ``eval_sets`` maps a task key to its prepared validation rows (a ``datasets.Dataset`` of
    schema rows, e.g. ``clinfair.trainers.data.load_task_split(task, data_dir, "validation")``).
    """

    def __init__(
        self,
        trainer,
        eval_sets: Mapping[str, Any],
        *,
        eval_steps: int = 100,
        output_file: str | Path | None = None,
        method: str = "grpo",
        split: str = "validation",
        max_new_tokens: int = 512,
        batch_size: int = 8,
        eval_on_start: bool = True,
        select_by: str | None = None,
    ):
        if eval_steps < 1:
            raise ValueError(f"eval_steps must be >= 1, got {eval_steps}")
        self.trainer = trainer
        self.eval_sets = dict(eval_sets)
        self.eval_steps = eval_steps
        self.output_file = (
            Path(output_file) if output_file else Path(trainer.args.output_dir) / "fairness.jsonl"
        )
        self.method, self.split = method, split
        self.settings = GenerationSettings(
            max_new_tokens=max_new_tokens, temperature=0.0, batch_size=batch_size
        )
        self.eval_on_start = eval_on_start
        self.last_step: int | None = None
        if select_by is not None and select_by not in SELECTABLE:
            raise ValueError(f"select_by {select_by!r} is not one of {', '.join(SELECTABLE)}")
        self.select_by = select_by
        self.best: dict[str, Any] | None = None  # {"step", "value"} of the kept best/ checkpoint

    # -- hooks ----------------------------------------------------------------------------------

    def on_train_begin(self, args, state, control, **kwargs):
        selection = Path(self.trainer.args.output_dir) / "best" / "selection.json"
        if self.select_by and state.global_step > 0 and selection.is_file():  # a resume keeps its best so far
            kept = json.loads(selection.read_text(encoding="utf-8"))
            if (
                kept.get("select_by") == self.select_by
                and kept.get("step", state.global_step + 1) <= state.global_step
            ):
                self.best = {"step": kept["step"], "value": kept["value"]}
        if self._keep_steps_up_to(state.global_step) and self.eval_on_start:
            self.evaluate()

    def _keep_steps_up_to(self, step: int) -> bool:
        """Rewrite ``output_file`` to its lines of steps <= ``step`` (none when ``step`` is 0);
        return whether ``step`` itself still needs an evaluation. Decided by the main process
        (which writes the file) and shared with the others."""

        accelerator = self.trainer.accelerator
        decision = [True]
        if accelerator.is_main_process:
            kept, evaluated = _lines_up_to(self.output_file, step) if step > 0 else ([], False)
            if kept or self.output_file.exists():
                atomic_write_text(self.output_file, "".join(kept))
            decision = [not evaluated]
        if accelerator.num_processes > 1:
            broadcast_object_list(decision, from_process=0)
        if not decision[0]:
            self.last_step = step
        return decision[0]

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % self.eval_steps == 0:
            self.evaluate()

    def on_train_end(self, args, state, control, **kwargs):
        if self.last_step != state.global_step:
            self.evaluate()

    # -- evaluation -----------------------------------------------------------------------------

    def evaluate(self) -> dict[str, Any] | None:
        """Score the validation rows now, log the scores and return the JSONL record."""

        trainer = self.trainer
        self.last_step = trainer.state.global_step
        records = gather_object(self._predict())  # every process gets all of them
        record = self._record(build_report(pd.DataFrame(records), n_bootstrap=0), records)
        if self.select_by:
            self._select(record)
        if trainer.accelerator.is_main_process:
            self.output_file.parent.mkdir(parents=True, exist_ok=True)
            with self.output_file.open("a") as f:
                f.write(json.dumps(record) + "\n")
        # On every process, as the Trainer logs (its loggers write from the main one only).
        # transformers' Trainer.log, not GRPOTrainer.log, which would flush GRPO's pending metrics;
        # and on_log clears control.should_log, which the trainer's own log of this step needs
        # (it gathers the loss from every process, so all must agree on it).
        should_log = trainer.control.should_log
        Trainer.log(trainer, self._scalars(record))
        trainer.control.should_log = should_log
        return record

    def _predict(self) -> list[dict[str, Any]]:
        """This process's share of prediction records (``clinfair.tasks.prompts.prediction_record``).

        With ``use_vllm`` the trainer's own vLLM engine generates (greedy, :class:`TRLVLLMBackend`):
        at the paper's scale, HF ``generate`` over the validation rows every N steps would
        dominate the run. Otherwise the unwrapped model generates with ``HFBackend``.
        """
        trainer = self.trainer
        if getattr(trainer, "use_vllm", False):
            return self._predict_with(TRLVLLMBackend(trainer, self.settings))
        from trl.models import unwrap_model_for_generation

        was_training = trainer.model.training
        with (
            unwrap_model_for_generation(
                trainer.model_wrapped,
                trainer.accelerator,
                gather_deepspeed3_params=trainer.args.ds3_gather_for_generation,
            ) as model,
            trainer._dist.summon_full_params(trainer.model_wrapped, recurse=False),  # FSDP, as TRL generates
        ):
            model.eval()
            records = self._predict_with(HFBackend(model, trainer.processing_class, self.settings))
            if was_training:
                model.train()
        return records

    def _predict_with(self, backend) -> list[dict[str, Any]]:

        rank, world = self.trainer.accelerator.process_index, self.trainer.accelerator.num_processes
        records: list[dict[str, Any]] = []
        for task, rows in self.eval_sets.items():
            spec = get_task(task)
            share = -(-len(rows) // world)  # equal shares: sharded models run the same number of batches
            mine = [min(i, len(rows) - 1) for i in range(rank * share, (rank + 1) * share)]
            for start in range(0, len(mine), self.settings.batch_size):
                batch = mine[start : start + self.settings.batch_size]
                examples = [rows[i] for i in batch]
                texts = backend.generate(examples, spec.multi_label)
                for position, index, row, text in zip(
                    range(start, start + len(batch)), batch, examples, texts
                ):
                    if rank * share + position < len(rows):  # drop the padding of the last share
                        records.append(prediction_record(spec, index, row, text))
        return records

    def _select(self, record: dict[str, Any]) -> None:
        """Keep ``output_dir/best`` as the checkpoint best so far on ``select_by`` (ties keep the earlier).

        Selection reads the validation split only, never test (MEDFAIR's convention). Every
        process calls ``save_model``, which sharded models need; the main process writes.
        """
        higher, read = SELECTABLE[self.select_by]
        value = read(record)
        better = value is not None and (
            self.best is None or (value > self.best["value"] if higher else value < self.best["value"])
        )
        if better:
            self.best = {"step": record["step"], "value": value}
            best_dir = Path(self.trainer.args.output_dir) / "best"
            self.trainer.save_model(str(best_dir))
            if self.trainer.accelerator.is_main_process:
                atomic_write_json(
                    best_dir / "selection.json",
                    {
                        "select_by": self.select_by,
                        "higher_is_better": higher,
                        "split": self.split,
                        **self.best,
                    },
                )
        record["selection"] = {
            "metric": self.select_by,
            "value": value,
            "selected": better,
            "best_step": None if self.best is None else self.best["step"],
        }

    def _record(self, report: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
        detail = report["paper_detail"]["by_dataset"]
        groups = {
            dataset: {
                attribute: {
                    name: {key: values[key] for key in ("rows", *GROUP_METRICS) if key in values}
                    for name, values in entry["groups"].items()
                }
                for attribute, entry in info["attributes"].items()
            }
            for dataset, info in detail.items()
        }
        state = self.trainer.state
        record = {
            "step": state.global_step,
            "epoch": state.epoch,
            "method": self.method,
            "split": self.split,
            "rows": len(records),
            "invalid": sum(not r["valid"] for r in records),
            "overall": report["paper"]["overall"],
            "by_dataset": report["paper"]["by_dataset"],
            "groups": groups,
        }
        diagnostics = getattr(self.trainer, "clustering_diagnostics", None)  # FairGRPO(_ND) trainers
        clustering = diagnostics() if callable(diagnostics) else None
        if clustering:
            record["clustering"] = clustering
        return record

    @staticmethod
    def _scalars(record: dict[str, Any]) -> dict[str, float]:
        out = {f"fairness/overall/{k}": v for k, v in record["overall"].items() if v is not None}
        for dataset, values in record["by_dataset"].items():
            out |= {f"fairness/{dataset}/{k}": v for k, v in values.items() if v is not None}
        for dataset, attributes in record["groups"].items():
            for attribute, groups in attributes.items():
                for name, values in groups.items():
                    for key in ("accuracy", "f1"):
                        if key in values:
                            out[f"fairness/{dataset}/{attribute}={name}/{key}"] = values[key]
        return out


class TRLVLLMBackend:
    """Greedy generation with the trainer's own vLLM engine (TRL's ``VLLMGeneration``, colocate or server).

    Prompts are rendered and tokenized as TRL tokenizes its rollouts (the processor, image tokens
    expanded) and sent with one image list per row; the engine's sampling settings are switched to
    greedy with the callback's token budget for the call and restored after it. Every process calls
    it with the same number of rows (the callback's equal shares), as TRL's collective gather needs.
    """

    name = "trl-vllm"
    _SAMPLING = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty", "max_completion_length")

    def __init__(self, trainer, settings: GenerationSettings):
        self.trainer, self.settings = trainer, settings

    def generate(self, rows, multi_label: bool = False) -> list[str]:

        trainer, processor = self.trainer, self.trainer.processing_class
        prompt_ids, images = [], []
        for row in rows:
            row_images = [_rgb(image) for image in row["images"]]
            text = render_prompt(processor, row, multi_label)
            prompt_ids.append(list(processor(text=[text], images=[row_images])["input_ids"][0]))
            images.append(row_images)
        if trainer.state.global_step != trainer._last_loaded_step:  # the engine holds the current weights
            trainer.vllm_generation.sync_weights()
            trainer._last_loaded_step = trainer.state.global_step
        engine = trainer.vllm_generation
        saved = {name: getattr(engine, name) for name in self._SAMPLING}
        greedy = {
            "temperature": 0.0,
            "top_p": 1.0,
            "top_k": 0,
            "min_p": 0.0,
            "repetition_penalty": 1.0,
            "max_completion_length": self.settings.max_new_tokens,
        }
        try:
            for name, value in greedy.items():
                setattr(engine, name, value)
            _, completion_ids, _, _ = engine.generate(prompts=prompt_ids, images=images, num_generations=1)
        finally:
            for name, value in saved.items():
                setattr(engine, name, value)
        return processor.batch_decode(completion_ids, skip_special_tokens=True)
