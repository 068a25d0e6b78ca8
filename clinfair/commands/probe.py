"""``clinfair probe``: the counterfactual demographic probe (see ``clinfair.benchmark.probe``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from clinfair.benchmark.bootstrap import N_BOOTSTRAP
from clinfair.benchmark.generation import GenerationSettings, default_max_new_tokens, make_backend
from clinfair.benchmark.probe import MIN_VALID_PAIRS, PROBE_ATTRIBUTES, probe_questions, run_probe
from clinfair.commands.tasks import apply_include_paths, include_path_field
from clinfair.core.arguments import add_dataclass_arguments
from clinfair.core.errors import ClinfairError
from clinfair.core.io import atomic_write_json, atomic_write_parquet, check_output_folder
from clinfair.tasks.attributes import DEFAULT_HELP, DEMOGRAPHICS, default_attributes, parse_attributes
from clinfair.tasks.prepare import default_data_dir, task_rows
from clinfair.tasks.registry import resolve_tasks


@dataclass(kw_only=True)
class ProbeArguments:
    """The flags of ``clinfair probe``.

    Parameters:
        model (`str`):
            Local folder or Hub id of an image-text-to-text model.
        tasks (`str`, *optional*, defaults to `"synthetic"`):
            Comma-separated task keys.
        attributes (`str`, *optional*):
            The attributes whose stated value is changed, of those a sentence can state (default: those
            of every command's default attribute spec).
        data (`str`, *optional*, defaults to `$CLINFAIR_DATA` or `"data"`):
            Folder of prepared tasks, ``DATA/<task>``.
        out (`str`):
            Output folder (``probe.json``, ``probe_rows.parquet``).
        include_path (`list[str]`, *optional*):
            Folders of your own task YAMLs to register.
        split (`str`, *optional*, defaults to `"test"`):
            Split probed.
        limit (`int`, *optional*):
            Probe only the first N rows of each task.
        batch_size (`int`, *optional*, defaults to `8`):
            Rows per generation batch.
        max_new_tokens (`int`, *optional*):
            Tokens generated per answer (default: by task kind, as ``clinfair eval``:
            ``clinfair.benchmark.generation.DEFAULT_MAX_NEW_TOKENS``).
        min_valid_pairs (`int`, *optional*, defaults to `clinfair.benchmark.probe.MIN_VALID_PAIRS`):
            Fewer pairs whose two answers are valid and the verdict is "cannot tell".
        progress (`bool`, *optional*, defaults to `True`):
            Show a progress bar (``--no-progress`` hides it).
        scores (`bool`, *optional*, defaults to `False`):
            Also score the labels (the true label's probability change).
        n_bootstrap (`int`, *optional*, defaults to `clinfair.benchmark.bootstrap.N_BOOTSTRAP`):
            Bootstrap resamples for the confidence intervals.
        seed (`int`, *optional*, defaults to `0`):
            Seed of the generation and the bootstrap.
        dtype (`str`, *optional*, defaults to `"auto"`):
            Weights dtype.
        trust_remote_code (`bool`, *optional*, defaults to `False`):
            Allow the checkpoint's own code.
    """

    model: str = field(metadata={"help": "local folder or Hub id of an image-text-to-text model"})
    tasks: str = field(
        default="synthetic", metadata={"help": "comma-separated task keys (default: synthetic)"}
    )
    attributes: str | None = field(
        default=None,
        metadata={
            "help": "attributes to probe, of those the probe can state: "
            f"{', '.join(DEMOGRAPHICS)} (default: those of the default spec, {DEFAULT_HELP})"
        },
    )
    data: str = field(
        default_factory=default_data_dir,
        metadata={"help": "folder of prepared tasks, DATA/<task> (default: $CLINFAIR_DATA or ./data)"},
    )
    out: str = field(metadata={"help": "output folder"})
    include_path: list[str] = include_path_field()
    split: str = field(
        default="test", metadata={"help": "split probed", "choices": ["train", "validation", "test"]}
    )
    limit: int | None = field(default=None, metadata={"help": "probe only the first N rows of each task"})
    batch_size: int = field(default=8, metadata={"help": "rows per generation batch"})
    max_new_tokens: int | None = field(
        default=None,
        metadata={
            "help": "tokens generated per answer (default: by task kind, as clinfair eval; more for a reasoning model)"
        },
    )
    min_valid_pairs: int = field(
        default=MIN_VALID_PAIRS,
        metadata={"help": "fewer pairs with two valid answers and the verdict is 'cannot tell'"},
    )
    progress: bool = field(default=True, metadata={"help": "hide the progress bar"})
    scores: bool = field(
        default=False, metadata={"help": "also score labels (true-label probability change)"}
    )
    n_bootstrap: int = field(default=N_BOOTSTRAP, metadata={"help": "bootstrap resamples for the intervals"})
    seed: int = field(default=0, metadata={"help": "seed of the generation and the bootstrap"})
    dtype: str = field(default="auto", metadata={"help": "auto, float32, bfloat16, float16"})
    trust_remote_code: bool = field(
        default=False, metadata={"help": "allow the checkpoint's own code (off by default)"}
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="counterfactual probe: does the answer change when only the stated sex or age changes?",
        description="Ask every row with its own sex and age bin stated in one sentence, then with each "
        "counterfactual value of the probed attributes (F<->M; every other age bin), same images. Writes "
        "probe.json (flip rate, accuracy change and true-label probability change per attribute and group, "
        "with bootstrap CIs, and the invalid answers of each arm) and probe_rows.parquet (every question, "
        "for inspection) to --out. The flip rate counts only pairs whose two answers are valid; with fewer "
        f"than {MIN_VALID_PAIRS} such pairs the verdict is 'cannot tell'.",
    )
    add_dataclass_arguments(parser, ProbeArguments)
    parser.set_defaults(func=run)


def probe_attributes(chosen: str | None, specs) -> list[str]:
    """``--attributes`` parsed (``clinfair.tasks.attributes.parse_attributes``), or by default the
    items of the default spec the probe can state (sex, age_group; not an intersection)."""

    if chosen is None:
        return [item for item in default_attributes(specs) if item in PROBE_ATTRIBUTES]
    return parse_attributes(chosen)


def run(args: argparse.Namespace) -> int:
    from clinfair.benchmark.locate import locate_model

    apply_include_paths(args)
    specs = resolve_tasks(args.tasks)
    check_output_folder(
        args.out,
        inputs=[("--model folder", args.model if Path(args.model).exists() else None)]
        + [(f"prepared {spec.key} data", Path(args.data) / spec.key) for spec in specs],
        writes=("probe.json", "probe_rows.parquet"),
        command="clinfair probe",
    )
    locate_model(args.model)  # the flags first, then the model's cause in one line, before torch is imported
    import pandas as pd

    attributes = probe_attributes(args.attributes, specs)
    for spec in specs:  # age_group is binned from the source's age
        available = {"sex": "sex" in spec.demographics, "age_group": "age" in spec.demographics}
        missing = [name for name in attributes if not available.get(name, True)]
        if missing:
            raise ClinfairError(
                f"task {spec.key} has no {', '.join(missing)} to probe (it has {', '.join(spec.demographics)})"
            )
    try:
        probe_questions([], attributes)
        rows = {spec.key: task_rows(spec, Path(args.data), args.split, args.limit) for spec in specs}
        max_new_tokens = args.max_new_tokens or default_max_new_tokens(spec.task_type for spec in specs)
        settings = GenerationSettings(
            max_new_tokens=max_new_tokens, batch_size=args.batch_size, seed=args.seed
        )
        backend = make_backend(
            "hf", args.model, settings, dtype=args.dtype, trust_remote_code=args.trust_remote_code
        )
    except FileNotFoundError as error:  # a model path that does not exist
        raise ClinfairError(str(error)) from None
    from tqdm.auto import tqdm

    report, records = {"tasks": {}}, []
    for spec in specs:
        split = rows[spec.key]
        bar = tqdm(desc=f"probe {spec.key}", unit="question", disable=not args.progress, dynamic_ncols=True)

        def advance(done: int, total: int, bar=bar) -> None:
            bar.total = total
            bar.update(done - bar.n)

        task_report, task_records = run_probe(
            backend,
            [split[i] for i in range(len(split))],
            dataset=spec.key,
            multi_label=spec.multi_label,
            attributes=attributes,
            scores=args.scores,
            batch_size=args.batch_size,
            n_bootstrap=args.n_bootstrap,
            seed=args.seed,
            min_valid_pairs=args.min_valid_pairs,
            progress=advance,
        )
        bar.close()
        report["tasks"][spec.key] = task_report
        records += task_records
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_parquet(out / "probe_rows.parquet", pd.DataFrame(records))
    atomic_write_json(
        out / "probe.json",
        {"model": args.model, "split": args.split, "max_new_tokens": max_new_tokens, **report},
    )
    for line in summary_lines(report):
        print(line)
    print(f"wrote {out / 'probe.json'} and {out / 'probe_rows.parquet'}")
    return 0


def summary_lines(report: dict) -> list[str]:
    """One line per task and attribute: the flip rate over the valid pairs, or "cannot tell"."""
    lines = []
    for task, task_report in report["tasks"].items():
        counts = task_report["invalid"]
        lines.append(
            f"{task}: invalid answers {counts['original_invalid']}/{counts['original_asked']} with the row's own "
            f"demographics, {counts['counterfactual_invalid']}/{counts['counterfactual_asked']} counterfactual"
        )
        for attribute, entry in task_report["attributes"].items():
            flip, pairs = (
                entry["flip_rate"],
                f"{entry['valid_pairs']} valid pairs of {entry['questions']} questions",
            )
            if flip["value"] is None:
                lines.append(
                    f"{task}  {attribute}: {entry['verdict']} of {entry['questions']} questions "
                    f"(at least {task_report['min_valid_pairs']} needed for a flip rate)"
                )
                continue
            ci = f" [{flip['ci'][0]:.3f}, {flip['ci'][1]:.3f}]" if flip["ci"] else ""
            flag = f"  FLAGGED: {entry['verdict']}" if entry["flagged"] else ""
            lines.append(f"{task}  {attribute}: flip rate {flip['value']:.3f}{ci} over {pairs}{flag}")
    return lines
