"""``clinfair probe``: the counterfactual demographic probe (see ``clinfair.benchmark.probe``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from clinfair.benchmark.bootstrap import N_BOOTSTRAP
from clinfair.commands.tasks import add_include_path_argument, apply_include_paths
from clinfair.core.errors import ClinfairError
from clinfair.tasks.prepare import default_data_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="counterfactual probe: does the answer change when only the stated sex or age changes?",
        description="Ask every row with its own sex and age bin stated in one sentence, then with each "
        "counterfactual value of the probed attributes (F<->M; every other age bin), same images. Writes "
        "probe.json (flip rate, accuracy change and true-label probability change per attribute and group, "
        "with bootstrap CIs) and probe_rows.parquet (every question, for inspection) to --out.",
    )
    parser.add_argument(
        "--model", required=True, help="local folder or Hub id of an image-text-to-text model"
    )
    parser.add_argument("--tasks", default="synthetic", help="comma-separated task keys (default: synthetic)")
    parser.add_argument(
        "--attributes", default="sex,age_group", help="attributes to probe (default: sex,age_group)"
    )
    parser.add_argument(
        "--data",
        default=default_data_dir(),
        help="folder of prepared tasks, DATA/<task> (default: $CLINFAIR_DATA or ./data)",
    )
    parser.add_argument("--out", required=True, help="output folder")
    add_include_path_argument(parser)
    parser.add_argument("--split", default="test", choices=["train", "validation", "test"])
    parser.add_argument("--limit", type=int, help="probe only the first N rows of each task")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.add_argument(
        "--scores", action="store_true", help="also score labels (true-label probability change)"
    )
    parser.add_argument("--n-bootstrap", type=int, default=N_BOOTSTRAP)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="auto")
    parser.add_argument(
        "--trust-remote-code", action="store_true", help="allow the checkpoint's own code (off by default)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from clinfair.benchmark.generation import GenerationSettings, make_backend
    from clinfair.benchmark.probe import probe_questions, run_probe
    from clinfair.core.io import atomic_write_json, atomic_write_parquet, check_output_folder
    from clinfair.tasks.prepare import task_rows
    from clinfair.tasks.registry import resolve_tasks

    apply_include_paths(args)
    specs = resolve_tasks(args.tasks)
    check_output_folder(
        args.out,
        inputs=[("--model folder", args.model if Path(args.model).exists() else None)]
        + [(f"prepared {spec.key} data", Path(args.data) / spec.key) for spec in specs],
        writes=("probe.json", "probe_rows.parquet"),
        command="clinfair probe",
    )
    attributes = [name.strip() for name in args.attributes.split(",") if name.strip()]
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
        settings = GenerationSettings(
            max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, seed=args.seed
        )
        backend = make_backend(
            "hf", args.model, settings, dtype=args.dtype, trust_remote_code=args.trust_remote_code
        )
    except FileNotFoundError as error:  # a model path that does not exist
        raise ClinfairError(str(error)) from None
    report, records = {"tasks": {}}, []
    for spec in specs:
        split = rows[spec.key]
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
        )
        report["tasks"][spec.key] = task_report
        records += task_records
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_parquet(out / "probe_rows.parquet", pd.DataFrame(records))
    atomic_write_json(out / "probe.json", {"model": args.model, "split": args.split, **report})
    for task, task_report in report["tasks"].items():
        for attribute, entry in task_report["attributes"].items():
            flip = entry["flip_rate"]
            ci = f" [{flip['ci'][0]:.3f}, {flip['ci'][1]:.3f}]" if flip["ci"] else ""
            value = "-" if flip["value"] is None else f"{flip['value']:.3f}"
            flag = "  FLAGGED: the answer depends on the stated " + attribute if entry["flagged"] else ""
            print(f"{task}  {attribute}: flip rate {value}{ci} over {entry['questions']} questions{flag}")
    print(f"wrote {out / 'probe.json'} and {out / 'probe_rows.parquet'}")
    return 0
