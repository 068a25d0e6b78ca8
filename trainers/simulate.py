"""``clinfair simulate``: the advantage estimators, isolated from the VLM.

A small policy answers a binary question about a "prompt" described by a feature vector, and
is trained by policy gradient on the rewards of G sampled answers per prompt, with the
advantages computed by the project's own functions (``clinfair.trainers.advantage``) for every
method. Nothing else differs between methods, so a difference in the result is the
advantage estimator's (or the sampler's, for resampling) doing.

The world (one per seed; every method of a seed sees the same data, the same start and the
same random streams):

* groups (``GroupSpec``): a share of the data, the *cue* that decides their label, optional
  label noise (the label is flipped with that probability, in training rewards and in the
  test labels alike) and image degradation (the group's feature noise is multiplied);
* features of a prompt: a bias, one value per cue (the group's own cue is
  ``cue_strength·(2y-1)`` plus noise; every other cue is ``±cue_strength`` at random plus
  noise, so it is uninformative for that group), the group's one-hot (groups are visible,
  as in the image), the domain's one-hot, and ``distractors`` pure-noise features;
* policy: softmax over the two answers, logits ``x·(W_shared + W_group)``: shared weights
  learn from every prompt, group-specific weights only from their group's prompts. A
  majority reading cue a pushes the shared weights onto cue a, which is noise for a
  minority reading cue b: the minority must undo that and learn its own cue from its few
  prompts. Both cues are equally learnable on their own (the world is symmetric in cues);
* training: each step draws P prompts from a finite training pool (uniformly; resampling:
  ∝ 1/count of the prompt's (domain, group)), samples G answers per prompt, rewards 1 for
  the (possibly noisy) label, computes the method's advantages, and takes one gradient
  step on mean_i A_i·log π(a_i | x_i);
* evaluation: greedy answers on a test set with the same number of prompts per (domain,
  group), accuracy per group; ``accuracy`` = the population's (groups weighted by share),
  ``gap`` = max - min group accuracy, ``worst`` = min.

The default study (``default_study``) answers, with 95 % t-intervals over seeds and paired
differences to GRPO: (a) the minority's gap and the accuracy cost as its share goes from
1 % to 50 %; (b) the paper's temperature and window ablations; (c) explicit groups vs
K-means clusters (FairGRPO_ND) with ARI / NMI; (d) a group whose gap comes from label noise
or degraded images rather than from representation.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from clinfair.benchmark.seedstats import holm, paired_t_pvalue, t_interval
from clinfair.trainers import advantage as adv


@dataclass(frozen=True)
class GroupSpec:
    """One demographic group of the simulated world."""

    name: str
    share: float
    cue: str = "a"
    label_noise: float = 0.0  # probability that the label is flipped
    degradation: float = 1.0  # multiplies the feature noise (a blurred image)


@dataclass(frozen=True)
class World:
    """The knobs of the simulated task; ``default`` is the group-shift world."""

    groups: tuple[GroupSpec, ...] = (GroupSpec("majority", 0.9, "a"), GroupSpec("minority", 0.1, "b"))
    domains: int = 1
    cue_strength: float = 1.0
    noise: float = 0.5
    distractors: int = 4
    train_size: int = 1000
    test_per_group: int = 250

    def __post_init__(self) -> None:
        if not self.groups or len({g.name for g in self.groups}) != len(self.groups):
            raise ValueError("World.groups must be non-empty with distinct names")
        for g in self.groups:
            if g.share <= 0 or not 0 <= g.label_noise <= 0.5 or g.degradation <= 0:
                raise ValueError(f"group {g.name!r}: share > 0, label_noise in [0, 0.5], degradation > 0")
        if self.domains < 1 or self.train_size < 2 or self.test_per_group < 1:
            raise ValueError("World: domains >= 1, train_size >= 2, test_per_group >= 1")

    @property
    def cues(self) -> list[str]:
        return sorted({g.cue for g in self.groups})

    @property
    def shares(self) -> np.ndarray:
        s = np.array([g.share for g in self.groups], dtype=float)
        return s / s.sum()


@dataclass(frozen=True)
class Training:
    """The budget, the same for every method."""

    steps: int = 100
    prompts_per_step: int = 16
    generations: int = 8
    learning_rate: float = 1.0
    dro_eta: float = 0.1


@dataclass(frozen=True)
class Method:
    """A method of the simulator: its estimator ``kind`` and, for FairGRPO, config overrides."""

    name: str
    kind: str  # grpo | dr_grpo | rloo | resampling | dro | fair
    fair: tuple[tuple[str, Any], ...] = ()  # FairAdvantageConfig fields
    preset: str | None = None  # start from a FairAdvantageConfig preset: "reference" or "reference_nd"

    def fair_config(self) -> adv.FairAdvantageConfig:
        start = getattr(adv.FairAdvantageConfig, self.preset) if self.preset else adv.FairAdvantageConfig
        return start(**dict(self.fair))


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("grpo", "grpo"),
        Method("dr_grpo", "dr_grpo"),
        Method("resampling", "resampling"),
        Method("dro", "dro"),
        Method("fairgrpo", "fair"),
        Method("fairgrpo_reference", "fair", preset="reference"),
        Method("fairgrpo_nd", "fair", (("grouping", "clusters"),)),
        Method(
            "fairgrpo_nd_reference", "fair", preset="reference_nd"
        ),  # qoq_med3's, not reference()+clusters
        Method("rloo", "rloo"),
        Method("reinforce_pp", "reinforce_pp"),  # whitened over the batch, so run per seed
        Method("reinforce_pp_baseline", "reinforce_pp_baseline"),
    )
}


# --------------------------------------------------------------------------------------------
# The world's data
# --------------------------------------------------------------------------------------------


@dataclass
class Data:
    x: np.ndarray  # (n, F) features
    label: np.ndarray  # (n,) observed label 0/1 (noisy where the group has label noise)
    group: np.ndarray  # (n,) group index
    domain: np.ndarray  # (n,) domain index


def draw_data(world: World, n_per_cell: np.ndarray, rng: np.random.Generator) -> Data:
    """Rows for ``n_per_cell[d, g]`` prompts of each (domain, group) cell."""
    cues = world.cues
    n_groups = len(world.groups)
    domain = np.repeat(np.arange(world.domains), n_per_cell.sum(axis=1))
    group = np.concatenate([np.repeat(np.arange(n_groups), row) for row in n_per_cell])
    n = group.size
    truth = rng.integers(0, 2, n)
    spec = [world.groups[i] for i in group]
    flip = rng.random(n) < np.array([g.label_noise for g in spec])
    noise = world.noise * np.array([g.degradation for g in spec])
    cue_values = world.cue_strength * rng.choice([-1.0, 1.0], size=(n, len(cues)))
    own = np.array([cues.index(g.cue) for g in spec])
    cue_values[np.arange(n), own] = world.cue_strength * (2 * truth - 1)
    cue_values += rng.normal(0, 1, cue_values.shape) * noise[:, None]
    x = np.concatenate(
        [
            np.ones((n, 1)),
            cue_values,
            np.eye(n_groups)[group],
            np.eye(world.domains)[domain],
            rng.normal(0, 1, (n, world.distractors)),
        ],
        axis=1,
    )
    return Data(x, np.where(flip, 1 - truth, truth), group, domain)


def make_world(world: World, seed: int) -> tuple[Data, Data]:
    """The training pool (cells drawn by share) and the balanced test set of one seed."""
    rng = np.random.default_rng([seed, 0])
    cells = np.outer(np.full(world.domains, 1 / world.domains), world.shares).ravel()
    counts = rng.multinomial(world.train_size, cells).reshape(world.domains, len(world.groups))
    train = draw_data(world, counts, rng)
    test = draw_data(world, np.full((world.domains, len(world.groups)), world.test_per_group), rng)
    return train, test


# --------------------------------------------------------------------------------------------
# Advantages: the project's own functions
# --------------------------------------------------------------------------------------------


class _Advantages:
    """One seed's advantage estimator, stateful where the method is (DRO weights, FairGRPO windows)."""

    def __init__(self, method: Method, training: Training) -> None:
        self.method, self.g = method, training.generations
        self.dro = adv.GroupDROWeights(training.dro_eta) if method.kind == "dro" else None
        self.scaler = adv.FairAdvantageScaler(method.fair_config()) if method.kind == "fair" else None
        self.clustered = self.scaler is not None and self.scaler.config.grouping == "clusters"
        self.ari: list[float] = []
        self.nmi: list[float] = []
        self.warnings = 0

    def __call__(self, rewards: np.ndarray, domains: list[str], groups: list[str]) -> np.ndarray:
        kind = self.method.kind
        if kind in ("grpo", "resampling"):
            return adv.grpo_advantages(rewards, self.g)
        if kind == "dr_grpo":
            return adv.grpo_advantages(rewards, self.g, scale="none")
        if kind == "rloo":
            return adv.rloo_advantages(rewards, self.g)
        if kind in ("reinforce_pp", "reinforce_pp_baseline"):
            return adv.reinforce_pp_advantages(rewards, self.g, baseline=kind == "reinforce_pp_baseline")
        if self.dro is not None:
            keys = [f"{d}/{k}" for d, k in zip(domains, groups)]
            self.dro.update(keys, rewards)
            return adv.grpo_advantages(rewards, self.g) * self.dro.weights_for(keys)
        assert self.scaler is not None
        # the authors' guard warns whenever a group's mean reward is 0 in a batch, which a
        # policy-gradient run meets often: counted per run (``advantage_warnings``), not printed
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", adv.AdvantageWarning)
            if not self.clustered:
                out = self.scaler(rewards, domains, groups, self.g)
            else:
                out = self.scaler(rewards, domains, ["UNK"] * len(groups), self.g, true_groups=groups)
        self.warnings += len(caught)
        if not self.clustered:
            return out
        if "ari" in self.scaler.last_stats:
            self.ari.append(self.scaler.last_stats["ari"])
            self.nmi.append(self.scaler.last_stats["nmi"])
        return out


# --------------------------------------------------------------------------------------------
# Runs: one policy per seed, the seeds of a chunk stepped together (numpy over the seed axis)
# --------------------------------------------------------------------------------------------


def run_seeds(world: World, training: Training, method: Method, seeds: Sequence[int]) -> list[dict[str, Any]]:
    """Train one policy per seed; returns each one's test metrics (fractions) and, for
    clustered methods, the mean ARI / NMI of the clusters over the run.

    Each seed's data, start and random draws come from its own generators, and the seed axis
    is only stacked, never mixed: a seed's result does not depend on the other seeds.
    """
    n_seeds, p_count, g_count = len(seeds), training.prompts_per_step, training.generations
    worlds = [make_world(world, seed) for seed in seeds]
    train_x = np.stack([w[0].x for w in worlds])  # (S, N, F)
    train_label = np.stack([w[0].label for w in worlds])
    train_group = np.stack([w[0].group for w in worlds])
    train_domain = np.stack([w[0].domain for w in worlds])
    picks, uniforms = [], []
    for k, seed in enumerate(seeds):
        rng = np.random.default_rng([seed, 1])
        sample_p = None
        if method.kind == "resampling":
            sample_p = adv.resampling_weights(train_domain[k].tolist(), train_group[k].tolist())
        n_rows = train_x.shape[1]
        picks.append(
            [rng.choice(n_rows, size=p_count, replace=False, p=sample_p) for _ in range(training.steps)]
        )
        uniforms.append(rng.random((training.steps, p_count, g_count)))
    picks_arr, uniforms_arr = np.array(picks), np.array(uniforms)  # (S, steps, P), (S, steps, P, G)

    n_groups, n_feat = len(world.groups), train_x.shape[2]
    shared = np.zeros((n_seeds, n_feat, 2))
    own = np.zeros((n_seeds, n_groups, n_feat, 2))
    estimators = [_Advantages(method, training) for _ in seeds]
    needs_groups = method.kind in ("dro", "fair")
    domain_names = [f"d{i}" for i in range(world.domains)]
    group_names = [g.name for g in world.groups]
    rows = np.arange(n_seeds)[:, None]
    for step in range(training.steps):
        idx = picks_arr[:, step]  # (S, P)
        x, grp, label = train_x[rows, idx], train_group[rows, idx], train_label[rows, idx]
        prob = _policy(x, shared[:, None] + own[rows, grp])  # (S, P, 2)
        answers = (uniforms_arr[:, step] < prob[..., 1:2]).astype(int)  # (S, P, G)
        rewards = (answers == label[..., None]).astype(float)
        if method.kind in ("grpo", "resampling", "dr_grpo", "rloo"):
            a = estimators[0](rewards.ravel(), [], []).reshape(rewards.shape)  # per prompt: seeds independent
        else:
            a = np.empty_like(rewards)
            for k in range(n_seeds):
                doms = grps = []
                if needs_groups:
                    doms = [domain_names[d] for d in train_domain[k, idx[k]] for _ in range(g_count)]
                    grps = [group_names[j] for j in grp[k] for _ in range(g_count)]
                a[k] = estimators[k](rewards[k].ravel(), doms, grps).reshape(p_count, g_count)
        # d/dlogits of mean_i A_i log π(a_i) = A_i (onehot(a_i) - π), averaged over the P·G rollouts
        onehot = np.stack([1 - answers, answers], axis=3)
        grad_logits = (a[..., None] * (onehot - prob[:, :, None, :])).sum(axis=2) / (p_count * g_count)
        grad = training.learning_rate * x[..., None] * grad_logits[:, :, None, :]  # (S, P, F, 2)
        shared += grad.sum(axis=1)
        np.add.at(own, (np.broadcast_to(rows, grp.shape), grp), grad)

    results = []
    for k, (_, test) in enumerate(worlds):
        prob = _policy(test.x[None], shared[k : k + 1, None] + own[k : k + 1, test.group])[0]
        correct = (prob.argmax(axis=1) == test.label).astype(float)
        per_group = np.array([correct[test.group == j].mean() for j in range(n_groups)])
        result: dict[str, Any] = {
            "accuracy": float(per_group @ world.shares),
            "gap": float(per_group.max() - per_group.min()),
            "worst": float(per_group.min()),
            "groups": {name: float(v) for name, v in zip(group_names, per_group)},
        }
        if estimators[k].warnings:
            result["advantage_warnings"] = estimators[k].warnings
        if estimators[k].ari:
            result["ari"] = float(np.mean(estimators[k].ari))
            result["nmi"] = float(np.mean(estimators[k].nmi))
        results.append(result)
    return results


def _policy(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Softmax over the two answers of logits x·W; x (..., F), weights (..., F, 2)."""
    logits = (x[..., None] * weights).sum(axis=-2)  # elementwise: no BLAS, same bits at any batch size
    logits -= logits.max(axis=-1, keepdims=True)
    prob = np.exp(logits)
    return prob / prob.sum(axis=-1, keepdims=True)


def run_one(world: World, training: Training, method: Method, seed: int) -> dict[str, Any]:
    """``run_seeds`` for a single seed."""
    return run_seeds(world, training, method, [seed])[0]


# --------------------------------------------------------------------------------------------
# Studies: settings x methods x seeds, paired by seed
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    question: str
    label: str
    world: World
    methods: tuple[Method, ...]
    focus: str  # the group whose accuracy the table shows beside the population's
    seeds: int | None = None  # fewer seeds than the study's (K-means every step is slow)


@dataclass
class Study:
    settings: list[Setting]
    training: Training = field(default_factory=Training)
    seeds: int = 100

    def seeds_of(self, setting: Setting) -> int:
        return min(self.seeds, setting.seeds or self.seeds)


def group_shift(minority_share: float) -> World:
    return World(
        groups=(GroupSpec("majority", 1 - minority_share, "a"), GroupSpec("minority", minority_share, "b"))
    )


def _fair(name: str, **fields: Any) -> Method:
    return Method(name, "fair", tuple(sorted(fields.items())))


def default_study(seeds: int = 100, questions: str = "abcd", nd_seeds: int = 20) -> Study:
    """(a) shares, (b) temperature/window ablations, (c) groups vs clusters, (d) stress test."""
    core = tuple(METHODS[m] for m in ("grpo", "dr_grpo", "resampling", "dro", "fairgrpo"))
    core += (METHODS["rloo"], METHODS["reinforce_pp_baseline"])
    settings: list[Setting] = []
    if "a" in questions:
        for share in (0.01, 0.05, 0.1, 0.25, 0.5):
            settings.append(Setting("a", f"minority share {share:.0%}", group_shift(share), core, "minority"))
    if "b" in questions:
        # fairgrpo = √(N·r̄), cumulative window; fairgrpo_reference = the authors' code
        ablations = [METHODS["grpo"], METHODS["fairgrpo"], METHODS["fairgrpo_reference"]]
        ablations += [_fair(f"T={t}", temperature=t) for t in adv.TEMPERATURES if t != "sqrt_n_times_r"]
        ablations += [_fair(f"window={w}", window=w) for w in adv.WINDOWS if w != "cumulative"]
        settings.append(Setting("b", "minority share 10%", group_shift(0.1), tuple(ablations), "minority"))
    if "c" in questions:
        grouping = tuple(METHODS[m] for m in ("grpo", "fairgrpo", "fairgrpo_nd"))
        settings.append(Setting("c", "minority share 10%", group_shift(0.1), grouping, "minority", nd_seeds))
    if "d" in questions:
        stress = tuple(METHODS[m] for m in ("grpo", "fairgrpo", "resampling"))
        noisy = World(groups=(GroupSpec("clean", 0.5, "a"), GroupSpec("noisy", 0.5, "a", label_noise=0.3)))
        blurred = World(
            groups=(GroupSpec("clean", 0.5, "a"), GroupSpec("degraded", 0.5, "a", degradation=3.0))
        )
        settings.append(Setting("d", "30 % label noise, equal shares", noisy, stress, "noisy"))
        settings.append(Setting("d", "3x feature noise, equal shares", blurred, stress, "degraded"))
    return Study(settings, seeds=seeds)


def _run_chunk(args: tuple[World, Training, Method, list[int]]) -> list[dict[str, Any]]:
    world, training, method, seeds = args
    return run_seeds(world, training, method, seeds)


def run_study(study: Study, workers: int = 2, progress: bool = False) -> list[list[list[dict[str, Any]]]]:
    """results[setting][method][seed]; each distinct (world, method, seed) runs once, spread
    over ``workers`` processes in chunks of seeds (``progress``: a bar over the chunks)."""
    from tqdm.auto import tqdm

    unique: dict[tuple[World, Method, int], dict[str, Any] | None] = {}
    for setting in study.settings:
        for method in setting.methods:
            for seed in range(study.seeds_of(setting)):
                unique[(setting.world, method, seed)] = None
    jobs: dict[tuple[World, Method], list[int]] = {}
    for world, method, seed in unique:
        jobs.setdefault((world, method), []).append(seed)
    chunks = [
        (w, study.training, m, seeds[i : i + 25])
        for (w, m), seeds in jobs.items()
        for i in range(0, len(seeds), 25)
    ]
    # the slow chunks (K-means every step) first, so both workers finish together
    chunks.sort(
        key=lambda c: c[2].kind == "fair" and dict(c[2].fair).get("grouping") == "clusters", reverse=True
    )
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            outputs: Iterable[list[dict[str, Any]]] = list(
                tqdm(pool.map(_run_chunk, chunks), total=len(chunks), desc="simulate", disable=not progress)
            )
    else:
        outputs = list(
            tqdm(map(_run_chunk, chunks), total=len(chunks), desc="simulate", disable=not progress)
        )
    for (world, _, method, seeds), out in zip(chunks, outputs):
        for seed, result in zip(seeds, out):
            unique[(world, method, seed)] = result
    return [
        [[unique[(s.world, m, seed)] for seed in range(study.seeds_of(s))] for m in s.methods]
        for s in study.settings
    ]


def report(study: Study, results: list[list[list[dict[str, Any]]]]) -> tuple[str, dict[str, Any]]:
    """Markdown tables (in percent) and the JSON summary; differences are paired by seed vs GRPO."""
    titles = {
        "a": "(a) Does FairGRPO shrink the minority gap, and at what cost, as the minority share grows?",
        "b": "(b) Temperature and window ablations of FairGRPO",
        "c": "(c) Explicit groups vs K-means clusters (FairGRPO_ND)",
        "d": "(d) Stress test: a gap from data quality, not from representation",
    }
    lines: list[str] = []
    summary: dict[str, Any] = {"seeds": study.seeds, "training": asdict(study.training), "settings": []}
    seen: set[str] = set()
    for setting, per_method in zip(study.settings, results):
        if setting.question not in seen:
            seen.add(setting.question)
            lines += ["", f"### {titles[setting.question]}", ""]
        focus = f"{setting.focus} acc"
        clustered = any("ari" in runs[0] for runs in per_method)
        header = ["method", "Acc", focus, "Gap", "Δ Acc vs GRPO", "Δ Gap vs GRPO", "Holm p (Acc, Gap)"]
        header += ["ARI", "NMI"] if clustered else []
        lines += [
            f"**{setting.label}** ({study.seeds_of(setting)} seeds)",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        base = per_method[[m.name for m in setting.methods].index("grpo")]
        entry: dict[str, Any] = {
            "question": setting.question,
            "label": setting.label,
            "world": asdict(setting.world),
            "methods": {},
        }
        for method, runs in zip(setting.methods, per_method):
            values = {
                "accuracy": [r["accuracy"] for r in runs],
                "gap": [r["gap"] for r in runs],
                focus: [r["groups"][setting.focus] for r in runs],
            }
            row = [method.name] + [t_interval(values[k]).text(100) for k in ("accuracy", focus, "gap")]
            stats_entry = {k: asdict(t_interval(v)) for k, v in values.items()}
            if method.name == "grpo":
                row += ["–", "–", "–"]
            else:
                diffs, pvalues = {}, []
                for key in ("accuracy", "gap"):
                    d = np.subtract(values[key], [r[key] for r in base])
                    diffs[key] = t_interval(d)
                    pvalues.append(paired_t_pvalue(values[key], [r[key] for r in base]))
                adjusted = holm(pvalues)
                row += [
                    diffs["accuracy"].text(100),
                    diffs["gap"].text(100),
                    ", ".join("–" if p is None else f"{p:.2g}" for p in adjusted),
                ]
                stats_entry["diff_vs_grpo"] = {k: asdict(v) for k, v in diffs.items()}
                stats_entry["holm_p"] = dict(zip(("accuracy", "gap"), adjusted))
            if clustered:
                for key in ("ari", "nmi"):
                    scored = [r[key] for r in runs if key in r]
                    row.append(t_interval(scored).text(1, 2) if scored else "–")
                    if scored:
                        stats_entry[key] = asdict(t_interval(scored))
            lines.append("| " + " | ".join(row) + " |")
            entry["methods"][method.name] = stats_entry
        lines.append("")
        summary["settings"].append(entry)
    t = study.training
    lines.append(
        f"Simulated policy, test accuracy in percent; ± is the 95 % t-interval over seeds; "
        f"Δ = method − GRPO paired by seed (same data, start and random streams), with the two-sided paired "
        f"t-test's p-value Holm-corrected over the two metrics. {t.steps} steps of {t.prompts_per_step} "
        f"prompts × {t.generations} answers, learning rate {t.learning_rate:g}."
    )
    return "\n".join(lines).strip() + "\n", summary
