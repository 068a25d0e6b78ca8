"""``clinfair leaderboard push``: publish a build folder as a Hub dataset, in one commit.

What is pushed (:func:`plan_push`) to the dataset repository:

* every file of the build folder (tables, page, plots, each run's ``results.json`` and
  ``predictions.parquet``, training dynamics, manifest), byte for byte;
* ``README.md``: the dataset card, with YAML front matter declaring one ``configs`` entry
  per table (``leaderboard`` is the default) and the overall table as a summary;
* ``eval.yaml``: the benchmark's description for the Hub's eval-results system: one task
  per scope (``overall`` and each clinfair task) whose value is F1_ES.

All of it goes in **one** ``create_commit`` (``clinfair.core.hub.push_commit``), so the repository moves from its previous
state to the new one or not at all. ``create_repo(exist_ok=True)`` runs first (``--private``
only matters when it creates the repository; if the commit is then refused, the new
repository stays empty).

With ``--model-pr``, each selected run's model repository gets a pull request (one commit
with ``create_pr=True``) adding ``.eval_results/clinfair_<run>.yaml``: its F1_ES per task,
pointing at the dataset. These are separate repositories, hence separate commits, made
after the dataset commit succeeded; a refused one is reported and the others still open.

``--dry-run DIR`` writes, atomically, ``DIR/<repo>/<path>`` for every file that would be
committed (``DIR/dataset/...`` and ``DIR/model-<n>/...``) and ``DIR/operations.json``
describing each commit (repository, type, PR or not, message, and per file its path, size
and SHA-256), and contacts nothing. The token is read the standard huggingface_hub way
(``HF_TOKEN``, else the cached ``hf auth login``) and is never printed.

The build names no local path (``clinfair.leaderboard.build``); as a last check, :func:`plan_push`
lists every absolute path of this machine still found in a file to push (text files, and
the text columns of parquet files), and the command prints them as a warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from clinfair.leaderboard.build import read_manifest
from clinfair.leaderboard.markdown import markdown_table
from clinfair.leaderboard.runs import LeaderboardError
from clinfair.leaderboard.statistics import METRICS, OVERALL
from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml

from clinfair.core import hub
from clinfair.core.hub import CARD_FILE, HUB_ID, Commit, front_matter, is_hub_id
from clinfair.core.text import markdown_text

EVAL_FILE = "eval.yaml"
HEADLINE_METRIC = "f1_es"
_PREDICTION_FILES = re.compile(r"(^|/)predictions\.parquet$")
#: /a/b... not inside a URL, a relative path or base64 text (a Windows drive path C:\...)
_ABSOLUTE_PATH = re.compile(
    r"(?<![\w.:/+=~\\-])/[\w.@+-]+(?:/[\w.@+-]+)+|\b[A-Za-z]:\\[\w.@+ -]+(?:\\[\w.@+ -]+)+"
)
_BINARY_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


@dataclass
class PushPlan:
    repo_id: str
    private: bool
    dataset: Commit
    model_prs: list[Commit]
    skipped: list[str]  # runs given to --model-pr whose model is not a Hub repository
    local_paths: dict[str, list[str]] = field(default_factory=dict)  # absolute local path -> files holding it


def _texts(path: str, data: bytes | Path):
    """The text a pushed file carries: a text file's content, a parquet file's string values."""
    if path.endswith(_BINARY_SUFFIXES):
        return
    if path.endswith(".parquet"):
        table = pq.read_table(pa.BufferReader(data) if isinstance(data, bytes) else data)
        for column in table.columns:
            while pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
                column = pc.list_flatten(column)
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                yield "\n".join(value for value in column.to_pylist() if value)
        return
    raw = data if isinstance(data, bytes) else data.read_bytes()
    yield raw.decode("utf-8", errors="ignore")


def find_local_paths(files: Mapping[str, bytes | Path]) -> dict[str, list[str]]:
    """Absolute paths of this machine (their first component exists here) found in ``files``."""
    found: dict[str, set[str]] = {}
    for path, data in files.items():
        for text in _texts(path, data):
            for match in _ABSOLUTE_PATH.finditer(text):
                candidate = match.group(0)
                root = candidate.split("\\")[0] + "\\" if "\\" in candidate else "/" + candidate.split("/")[1]
                if Path(root).exists():
                    found.setdefault(candidate, set()).add(path)
    return {candidate: sorted(paths) for candidate, paths in sorted(found.items())}


def check_repo_id(repo_id: str) -> None:
    if not HUB_ID.fullmatch(repo_id or ""):
        raise LeaderboardError(f"--repo must look like ORG/NAME, got {repo_id!r}")


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def dataset_card(
    repo_id: str, manifest: Mapping[str, Any], leaderboard: pd.DataFrame, files: Sequence[str]
) -> str:
    """The dataset card: YAML front matter (configs, tags) and a summary of the leaderboard."""
    configs = [
        {"config_name": "leaderboard", "data_files": "leaderboard.parquet", "default": True},
        {"config_name": "scores", "data_files": "scores.parquet"},
        {"config_name": "groups", "data_files": "groups.parquet"},
    ]
    for name in ("predictions", "dynamics"):
        if f"{name}.parquet" in files:
            configs.append({"config_name": name, "data_files": f"{name}.parquet"})
    front = {
        "pretty_name": manifest["title"],
        "tags": ["fairness", "medical-imaging", "vision-language-models", "leaderboard", "clinfair"],
        "configs": configs,
    }
    comparison = manifest["comparison"]
    settings = manifest["settings"]
    lines = [
        *front_matter(front),
        "",
        f"# {markdown_text(manifest['title'])}",
        "",
        f"Group-fairness results of clinical vision-language models, built with clinfair {manifest['clinfair_version']} "
        "(`clinfair leaderboard build`). Values follow the evaluation protocol of the FairGRPO paper's authors "
        "([arXiv 2510.19893](https://arxiv.org/abs/2510.19893)); "
        f"intervals are {settings['ci_level']:.0%} percentile bootstrap intervals over {settings['n_bootstrap']} "
        "resamples of the prediction rows within dataset × sex × age-group strata.",
        "",
        "## Overall",
        "",
        markdown_table(leaderboard, OVERALL, with_ci=True, bold_best=False),
        "",
    ]
    if comparison["mixed"]:
        lines += ["**Mixed evaluation setups** (built with `--allow-mixed`); rows marked ⚠ differ:", ""]
        lines += [f"- {markdown_text(line)}" for line in comparison["differences"]] + [""]
    lines += ["## Metrics", ""]
    lines += [
        f"- **{m.label}** ({'higher' if m.higher_is_better else 'lower'} is better): {m.description}"
        for m in METRICS
    ]
    lines += [
        "",
        "## Files",
        "",
        "| file | content |",
        "|---|---|",
        "| `leaderboard.parquet` | one row per run; `<scope>.<metric>` with `.ci_low` / `.ci_high` |",
        "| `scores.parquet` | the same, long: run, method, model, scope, metric, value, ci_low, ci_high |",
        "| `groups.parquet` | per-group values: `paper` layer (sex, age group) and `standard` layer (every attribute) |",
        "| `predictions.parquet` | every run's predictions (one row per example) with a `run` column |",
        "| `leaderboard.md`, `paper_table.md` | the tables as Markdown (with intervals; the paper's layout) |",
        "| `index.html`, `plots/` | the static page (self-contained) and its figures |",
        "| `runs/<run>/` | each run's `results.json` and `predictions.parquet` as `clinfair eval` wrote them |",
        "| `eval.yaml` | the benchmark's tasks for the Hub's evaluation results |",
        "",
        "## Use",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'board = load_dataset("{repo_id}", "leaderboard", split="train").to_pandas()',
        "```",
        "",
        "The predictions hold per-example demographics (sex, age) and example ids of the source "
        "datasets; most sources are credentialed, so check their data-use terms before making this "
        "repository public.",
        "",
    ]
    return "\n".join(lines)


def eval_yaml(manifest: Mapping[str, Any]) -> str:
    """The benchmark description (``eval.yaml``): one task per scope, scored by F1_ES."""
    tasks = []
    for scope in manifest["scopes"]:
        what = "averaged over the tasks" if scope == OVERALL else f"on the {scope} task"
        tasks.append(
            {
                "id": scope,
                "config": "scores",
                "split": "train",
                "description": f"F1_ES = F1 / (1 + σF1) {what}, paper protocol (group-averaged over sex "
                "and age group); higher is better",
            }
        )
    document = {
        "name": manifest["title"],
        "description": "Group fairness of clinical vision-language models on clinfair's tasks (FairGRPO, "
        "arXiv 2510.19893): accuracy, F1 and their gaps across sex and age groups. The evaluation data are "
        "the clinfair tasks' test splits, prepared locally with `clinfair prepare`; this repository holds "
        "the results.",
        "evaluation_framework": "clinfair",
        "tasks": tasks,
        "metrics": [
            {
                "name": m.key,
                "label": m.label,
                "higher_is_better": m.higher_is_better,
                "description": m.description,
            }
            for m in METRICS
        ],
    }
    return _yaml(document)


def model_results_yaml(repo_id: str, run: Mapping[str, Any], scores: pd.DataFrame) -> str:
    """``.eval_results/*.yaml`` entries (huggingface_hub's format) for one run: F1_ES per scope."""

    rows = scores[(scores["run"] == run["run"]) & (scores["metric"] == HEADLINE_METRIC)].dropna(
        subset=["value"]
    )
    entries = [
        EvalResultEntry(
            dataset_id=repo_id,
            task_id=row.scope,
            value=round(float(row.value), 4),
            source_url=f"https://huggingface.co/datasets/{repo_id}",
            source_name="clinfair leaderboard",
            notes=markdown_text(
                f"run {run['run']}, method {run['method']}; F1_ES, paper protocol"
                + (f"; {_not_ranked(run)}: {run['unranked']}" if run.get("unranked") else "")
            ),
        )
        for row in rows.itertuples()
    ]
    return _yaml(eval_result_entries_to_yaml(entries))


def _model_targets(
    manifest: Mapping[str, Any], requests: Sequence[str] | None
) -> tuple[list[tuple[dict, str]], list[str]]:
    """(run, model repo) pairs for ``--model-pr`` arguments (``RUN`` or ``RUN=ORG/MODEL``; none: every run)."""
    runs = {run["run"]: run for run in manifest["runs"]}
    targets, skipped = [], []
    for request in requests or list(runs):
        name, _, repo = request.partition("=")
        if name not in runs:
            raise LeaderboardError(
                f"--model-pr names run {name!r}, which is not in the build ({', '.join(runs)})"
            )
        repo = repo or runs[name]["model"]
        if repo == runs[name]["model"] and not is_hub_id(repo):
            if requests:
                raise LeaderboardError(
                    f"run {name!r} was evaluated from {repo}, not a Hub repository; use --model-pr {name}=ORG/MODEL"
                )
            skipped.append(f"{name} ({repo} is not a Hub repository)")
            continue
        check_repo_id(repo)
        targets.append((runs[name], repo))
    return targets, skipped


def plan_push(
    build_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    include_predictions: bool = True,
    model_prs: Sequence[str] | None = None,
) -> PushPlan:
    """Everything the push would send, computed locally (nothing is contacted)."""
    check_repo_id(repo_id)
    build_dir = Path(build_dir)
    manifest = read_manifest(build_dir)
    files: dict[str, bytes | Path] = {
        p.relative_to(build_dir).as_posix(): p for p in sorted(build_dir.rglob("*")) if p.is_file()
    }
    if not include_predictions:
        files = {path: data for path, data in files.items() if not _PREDICTION_FILES.search(path)}
    leaderboard = pd.read_parquet(build_dir / "leaderboard.parquet")
    files[CARD_FILE] = dataset_card(repo_id, manifest, leaderboard, list(files)).encode("utf-8")
    files[EVAL_FILE] = eval_yaml(manifest).encode("utf-8")
    names = ", ".join(run["run"] for run in manifest["runs"])
    dataset = Commit(
        repo_id=repo_id,
        repo_type="dataset",
        message=f"clinfair leaderboard: {len(manifest['runs'])} run(s)",
        description=f"Runs: {names}. Built by clinfair {manifest['clinfair_version']}.",
        files=files,
    )
    commits = []
    if model_prs is not None:
        scores = pd.read_parquet(build_dir / "scores.parquet")
        targets, skipped = _model_targets(manifest, model_prs)
        for run, repo in targets:
            content = model_results_yaml(repo_id, run, scores).encode("utf-8")
            commits.append(
                Commit(
                    repo_id=repo,
                    repo_type="model",
                    create_pr=True,
                    message=f"Add clinfair fairness results ({run['run']})",
                    description=f"Evaluation results from https://huggingface.co/datasets/{repo_id}",
                    files={f".eval_results/clinfair_{run['run_id']}.yaml": content},
                )
            )
    else:
        skipped = []
    every_file = {
        f"{commit.repo_id}/{path}": data
        for commit in (dataset, *commits)
        for path, data in commit.files.items()
    }
    return PushPlan(
        repo_id=repo_id,
        private=private,
        dataset=dataset,
        model_prs=commits,
        skipped=skipped,
        local_paths=find_local_paths(every_file),
    )


def write_dry_run(plan: PushPlan, out: str | Path) -> Path:
    """Write every file of the plan and ``operations.json`` to ``out`` (atomically; ``clinfair.core.hub``)."""
    commits = [("dataset", plan.dataset)] + [(f"model-{i}", c) for i, c in enumerate(plan.model_prs, start=1)]
    return hub.write_dry_run(out, commits, private=plan.private, extra={"skipped_model_prs": plan.skipped})


def execute(plan: PushPlan) -> dict[str, Any]:
    """Create the dataset repository if needed, make the dataset commit, then open the model PRs
    (each with ``clinfair.core.hub.push_commit``).

    Returns ``{"dataset_commit": url, "model_prs": [url, ...], "failed_prs": [line, ...]}``.
    Raises :class:`~clinfair.core.hub.HubError` when there is no token or the dataset push fails.
    """
    info = hub.push_commit(plan.dataset, create_repo=True, private=plan.private)
    report: dict[str, Any] = {"dataset_commit": info.commit_url, "model_prs": [], "failed_prs": []}
    for commit in plan.model_prs:
        try:
            pr = hub.push_commit(commit, what=f"pull request on {commit.repo_id}")
            report["model_prs"].append(pr.pr_url)
        except hub.HubError as error:
            report["failed_prs"].append(str(error))
    return report


def _not_ranked(run: dict[str, Any]) -> str:
    """What a run's ``unranked`` reason withholds: every column (clinfair.leaderboard.ranking)."""
    return "not ranked"
