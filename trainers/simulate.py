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
* training: each step draws P prompts from a finite training pool (uniformly, or with the
  method's ``sampling_weights``: resampling draws ∝ 1/count of the prompt's (domain, group)),
  samples G answers per prompt, rewards 1 for the (possibly noisy) label, computes the
  method's advantages, and takes one optimiser step up the gradient of
  mean_i A_i·log π(a_i | x_i);
* the optimiser (``Training.optimizer``) is **Adam** by default, as the trainers' AdamW:
  β1 = 0.9, β2 = 0.999, ε = 1e-8 (transformers' defaults), no weight decay, bias-corrected,
  learning rate 0.02, every weight of every seed its own moments. Plain SGD at learning rate
  1 (``optimizer="sgd"``) was the rule before: its step grows with the advantages' scale, so
  any method that rescales advantages gets a bigger step for free (the step-size confound);
  Adam's update is invariant to a global rescaling of the gradient. The Adam learning rate
  was chosen once, by GRPO alone and before any other method ran under Adam: of 0.01, 0.02,
  0.05 and 0.1, the one whose GRPO population accuracy in the 10 %-minority world (20 seeds)
  is closest to SGD's (96.3 % vs 96.4 %); it was never tuned for any method's gap;
* evaluation: greedy answers on a test set with the same number of prompts per (domain,
  group), accuracy per group; ``accuracy`` = the population's (groups weighted by share),
  ``gap`` = max - min group accuracy, ``worst`` = min.

Each method's advantages come from its pure estimator in the method registry
(``clinfair.trainers.methods.METHODS[...].advantage``); a simulator ``Method`` is a registry
method plus its estimator's options, so a method added to the registry is simulated without
any change here.

The default study (``default_study``) answers, with 95 % t-intervals over seeds and paired
differences to GRPO: (a) the minority's gap and the accuracy cost as its share goes from
1 % to 50 %; (b) the paper's temperature and window ablations; (c) explicit groups vs
K-means clusters (FairGRPO_ND) with ARI / NMI; (d) a group whose gap comes from label noise
or degraded images rather than from representation. Every setting also runs the control arm
``grpo_renorm`` (GRPO's advantages with FairGRPO's batch re-normalisation and no group
weights), and FairGRPO is compared with it as well as with GRPO. Holm's correction runs over
each question's whole family of tests (every comparison and metric of every setting of
that question), and the report prints the family's size.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from clinfair.benchmark.seedstats import holm, paired_t_pvalue, t_interval
from clinfair.trainers import advantage as adv
from clinfair.trainers.advantage.estimators import AdvantageEstimator, FairGRPOAdvantage
from clinfair.trainers.methods import METHODS as REGISTRY
from tqdm.auto import tqdm


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


OPTIMIZERS = ("adam", "sgd")
#: The learning rate each optimiser runs at unless ``Training.learning_rate`` is given: Adam's
#: chosen once by GRPO alone (see the module docstring), SGD's the rule of the earlier studies.
DEFAULT_LEARNING_RATES = {"adam": 0.02, "sgd": 1.0}


@dataclass(frozen=True)
class Training:
    """The budget and the learning rule, the same for every method.

    ``optimizer``: "adam" (default; the trainers use AdamW) or "sgd" (plain gradient steps, the
    earlier rule, whose step size grows with the advantages' scale). ``learning_rate``: None
    takes :data:`DEFAULT_LEARNING_RATES` of the optimiser. ``adam_beta1``, ``adam_beta2``,
    ``adam_epsilon``: Adam's settings (transformers' AdamW defaults; no weight decay).
    ``dro_eta``: group-DRO's η, given to every estimator that takes a ``dro_eta`` option.
    """

    steps: int = 100
    prompts_per_step: int = 16
    generations: int = 8
    learning_rate: float | None = None
    dro_eta: float = 0.1
    optimizer: str = "adam"
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Training.optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ValueError(f"Training.learning_rate must be > 0, got {self.learning_rate!r}")

    @property
    def lr(self) -> float:
        """The learning rate in use."""
        return DEFAULT_LEARNING_RATES[self.optimizer] if self.learning_rate is None else self.learning_rate


@dataclass(frozen=True)
class Method:
    """A method of the simulator: a registry method (``clinfair.trainers.methods.METHODS``) and
    keyword options of its pure estimator (``fair_mode``, ``fair_advantage``, ``renorm`` ...),
    kept as (name, value) pairs so a Method is hashable; a ``fair_advantage`` value is given as
    pairs too."""

    name: str
    method: str
    options: tuple[tuple[str, Any], ...] = ()

    def estimator(self, training: Training) -> AdvantageEstimator:
        """A fresh estimator of this method for one seed's run."""
        options = {k: dict(v) if k == "fair_advantage" else v for k, v in self.options}
        entry = REGISTRY[self.method]
        if "dro_eta" in inspect.signature(entry.advantage_class()).parameters:
            options.setdefault("dro_eta", training.dro_eta)
        return entry.advantage_estimator(training.generations, **options)

    def fair_config(self) -> adv.FairAdvantageConfig:
        """The ``FairAdvantageConfig`` of a FairGRPO-family method."""
        estimator = self.estimator(Training())
        if not hasattr(estimator, "config"):
            raise ValueError(f"{self.name} is not a FairGRPO method")
        return estimator.config


def _fair(name: str, method: str = "fairgrpo", fair_mode: str = "paper", **fields: Any) -> Method:
    options: tuple[tuple[str, Any], ...] = (("fair_mode", fair_mode),)
    if fields:
        options += (("fair_advantage", tuple(sorted(fields.items()))),)
    return Method(name, method, options)


#: The simulator's named methods: every registry method with its defaults, the authors' modes,
#: and the control arm.
METHODS: dict[str, Method] = {m.name: Method(m.name, m.name) for m in REGISTRY.values()}
METHODS.update(
    {
        "fairgrpo_reference": _fair("fairgrpo_reference", fair_mode="reference"),
        # qoq_med3's FairGRPO_ND, reference_nd(), not reference() + clusters
        "fairgrpo_nd_reference": _fair("fairgrpo_nd_reference", "fairgrpo_nd", fair_mode="reference"),
        # the control arm: GRPO + FairGRPO's batch re-normalisation (z-score), no group weights
        "grpo_renorm": Method("grpo_renorm", "grpo", (("renorm", "zscore"),)),
    }
)
CONTROL = "grpo_renorm"


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
    estimators = [method.estimator(training) for _ in seeds]
    domain_names = [f"d{i}" for i in range(world.domains)]
    group_names = [g.name for g in world.groups]
    # each training row's domain and group label, as the estimators read them (object arrays of str)
    domain_labels = np.array(domain_names, dtype=object)[train_domain]
    group_labels = np.array(group_names, dtype=object)[train_group]
    picks, uniforms = [], []
    for k, seed in enumerate(seeds):
        rng = np.random.default_rng([seed, 1])
        sample_p = estimators[k].sampling_weights(train_domain[k].tolist(), train_group[k].tolist())
        n_rows = train_x.shape[1]
        picks.append(
            [rng.choice(n_rows, size=p_count, replace=False, p=sample_p) for _ in range(training.steps)]
        )
        uniforms.append(rng.random((training.steps, p_count, g_count)))
    picks_arr, uniforms_arr = np.array(picks), np.array(uniforms)  # (S, steps, P), (S, steps, P, G)

    n_groups, n_feat = len(world.groups), train_x.shape[2]
    shared = np.zeros((n_seeds, n_feat, 2))
    own = np.zeros((n_seeds, n_groups, n_feat, 2))
    optimiser = _Optimiser(training, (shared, own))
    per_prompt, reads_groups = estimators[0].per_prompt, estimators[0].reads_groups
    rows = np.arange(n_seeds)[:, None]
    for step in range(training.steps):
        idx = picks_arr[:, step]  # (S, P)
        x, grp, label = train_x[rows, idx], train_group[rows, idx], train_label[rows, idx]
        prob = _policy(x, shared[:, None] + own[rows, grp])  # (S, P, 2)
        answers = (uniforms_arr[:, step] < prob[..., 1:2]).astype(int)  # (S, P, G)
        rewards = (answers == label[..., None]).astype(float)
        if per_prompt:
            a = estimators[0](rewards.ravel()).reshape(rewards.shape)  # per prompt: seeds independent
        else:
            a = np.empty_like(rewards)
            for k in range(n_seeds):
                doms = grps = []
                if reads_groups:  # one label per rollout
                    doms = np.repeat(domain_labels[k, idx[k]], g_count)
                    grps = np.repeat(group_labels[k, idx[k]], g_count)
                a[k] = estimators[k](rewards[k].ravel(), doms, grps).reshape(p_count, g_count)
        # d/dlogits of mean_i A_i log π(a_i) = A_i (onehot(a_i) - π), averaged over the P·G rollouts
        onehot = np.stack([1 - answers, answers], axis=3)
        grad_logits = (a[..., None] * (onehot - prob[:, :, None, :])).sum(axis=2) / (p_count * g_count)
        grad = x[..., None] * grad_logits[:, :, None, :]  # (S, P, F, 2)
        grad_own = np.zeros_like(own)
        np.add.at(grad_own, (np.broadcast_to(rows, grp.shape), grp), grad)
        optimiser.step((grad.sum(axis=1), grad_own))

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
        if getattr(estimators[k], "ari", None):
            result["ari"] = float(np.mean(estimators[k].ari))
            result["nmi"] = float(np.mean(estimators[k].nmi))
        results.append(result)
    return results


class _Optimiser:
    """Gradient *ascent* on the weights, in place: SGD (w += lr·g) or Adam (bias-corrected
    moments per weight; w += lr·m̂/(√v̂ + ε)). Elementwise, so stacked seeds stay independent."""

    def __init__(self, training: Training, weights: tuple[np.ndarray, ...]) -> None:
        self.training, self.weights, self.t = training, weights, 0
        self.m = [np.zeros_like(w) for w in weights]
        self.v = [np.zeros_like(w) for w in weights]

    def step(self, grads: tuple[np.ndarray, ...]) -> None:
        tr, lr = self.training, self.training.lr
        self.t += 1
        for w, g, m, v in zip(self.weights, grads, self.m, self.v):
            if tr.optimizer == "sgd":
                w += lr * g
                continue
            m *= tr.adam_beta1
            m += (1 - tr.adam_beta1) * g
            v *= tr.adam_beta2
            v += (1 - tr.adam_beta2) * g * g
            m_hat = m / (1 - tr.adam_beta1**self.t)
            v_hat = v / (1 - tr.adam_beta2**self.t)
            w += lr * m_hat / (np.sqrt(v_hat) + tr.adam_epsilon)


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


def default_study(seeds: int = 100, questions: str = "abcd", nd_seeds: int = 20) -> Study:
    """(a) shares, (b) temperature/window ablations, (c) groups vs clusters, (d) stress test."""
    core = tuple(METHODS[m] for m in ("grpo", "dr_grpo", "resampling", "dro", "fairgrpo"))
    core += (METHODS["rloo"], METHODS["reinforce_pp_baseline"], METHODS[CONTROL])
    settings: list[Setting] = []
    if "a" in questions:
        for share in (0.01, 0.05, 0.1, 0.25, 0.5):
            settings.append(Setting("a", f"minority share {share:.0%}", group_shift(share), core, "minority"))
    if "b" in questions:
        # fairgrpo = √(N·r̄), cumulative window; fairgrpo_reference = the authors' code
        ablations = [METHODS["grpo"], METHODS[CONTROL], METHODS["fairgrpo"], METHODS["fairgrpo_reference"]]
        ablations += [_fair(f"T={t}", temperature=t) for t in adv.TEMPERATURES if t != "sqrt_n_times_r"]
        ablations += [_fair(f"window={w}", window=w) for w in adv.WINDOWS if w != "cumulative"]
        settings.append(Setting("b", "minority share 10%", group_shift(0.1), tuple(ablations), "minority"))
    if "c" in questions:
        grouping = tuple(METHODS[m] for m in ("grpo", CONTROL, "fairgrpo", "fairgrpo_nd"))
        settings.append(Setting("c", "minority share 10%", group_shift(0.1), grouping, "minority", nd_seeds))
    if "d" in questions:
        stress = tuple(METHODS[m] for m in ("grpo", CONTROL, "fairgrpo", "resampling"))
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
        key=lambda c: getattr(REGISTRY[c[2].method].advantage_class(), "clusters", False), reverse=True
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


#: The metrics every comparison tests (the focus group's accuracy is shown, not tested).
TESTED = ("accuracy", "gap")
TITLES = {
    "a": "(a) Does FairGRPO shrink the minority gap, and at what cost, as the minority share grows?",
    "b": "(b) Temperature and window ablations of FairGRPO",
    "c": "(c) Explicit groups vs K-means clusters (FairGRPO_ND)",
    "d": "(d) Stress test: a gap from data quality, not from representation",
}


def comparisons(setting: Setting) -> list[tuple[str, str]]:
    """(method, baseline) pairs a setting tests: every method vs GRPO, and every FairGRPO-family
    method vs the control arm when the setting runs it."""
    names = [m.name for m in setting.methods]
    pairs = [(name, "grpo") for name in names if name != "grpo"]
    if CONTROL in names:
        pairs += [
            (m.name, CONTROL)
            for m in setting.methods
            if issubclass(REGISTRY[m.method].advantage_class(), FairGRPOAdvantage)
        ]
    return pairs


def report(study: Study, results: list[list[list[dict[str, Any]]]]) -> tuple[str, dict[str, Any]]:
    """Markdown tables (in percent) and the JSON summary (with every seed's values).

    Differences are paired by seed; each is tested by a two-sided paired t-test on accuracy and
    on gap, and Holm's correction runs over the whole family of tests of each question (every
    setting, comparison and metric of that question), whose size the report prints.
    """
    # pass 1: values, differences and raw p-values; the families are gathered per question
    entries, families = [], {}
    for setting, per_method in zip(study.settings, results):
        focus = f"{setting.focus} acc"
        values = {
            m.name: {
                "accuracy": [r["accuracy"] for r in runs],
                "gap": [r["gap"] for r in runs],
                focus: [r["groups"][setting.focus] for r in runs],
            }
            for m, runs in zip(setting.methods, per_method)
        }
        tests = {}
        for name, baseline in comparisons(setting):
            for key in TESTED:
                p = paired_t_pvalue(values[name][key], values[baseline][key])
                tests[(name, baseline, key)] = p
                families.setdefault(setting.question, []).append((len(entries), (name, baseline, key), p))
        entries.append((setting, per_method, values, focus, tests))
    adjusted: dict[tuple[int, tuple[str, str, str]], float | None] = {}
    for members in families.values():
        for (index, key, _), p in zip(members, holm([p for _, _, p in members])):
            adjusted[(index, key)] = p
    family_sizes = {q: len(members) for q, members in families.items()}

    # pass 2: tables and summary
    lines: list[str] = []
    t = study.training
    summary: dict[str, Any] = {
        "seeds": study.seeds,
        "training": {**asdict(t), "lr": t.lr},
        "tested_metrics": list(TESTED),
        "holm_family_sizes": family_sizes,
        "settings": [],
    }
    seen: set[str] = set()
    for index, (setting, per_method, values, focus, tests) in enumerate(entries):
        if setting.question not in seen:
            seen.add(setting.question)
            lines += ["", f"### {TITLES[setting.question]}", ""]
            lines += [
                f"Holm over this question's family of {family_sizes.get(setting.question, 0)} tests.",
                "",
            ]
        clustered = any("ari" in runs[0] for runs in per_method)
        header = ["method", "Acc", focus, "Gap", "Δ Acc vs GRPO", "Δ Gap vs GRPO", "Holm p (Acc, Gap)"]
        header += ["ARI", "NMI"] if clustered else []
        lines += [
            f"**{setting.label}** ({study.seeds_of(setting)} seeds)",
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        entry: dict[str, Any] = {
            "question": setting.question,
            "label": setting.label,
            "focus": setting.focus,
            "seeds": study.seeds_of(setting),
            "world": asdict(setting.world),
            "methods": {},
            "per_seed": values,
        }
        for method, runs in zip(setting.methods, per_method):
            own = values[method.name]
            row = [method.name] + [t_interval(own[k]).text(100) for k in ("accuracy", focus, "gap")]
            stats_entry: dict[str, Any] = {k: asdict(t_interval(v)) for k, v in own.items()}
            for baseline, suffix in (("grpo", "grpo"), (CONTROL, "control")):
                if (method.name, baseline, TESTED[0]) not in tests:
                    continue
                diffs = {k: t_interval(np.subtract(own[k], values[baseline][k])) for k in (*TESTED, focus)}
                stats_entry[f"diff_vs_{suffix}"] = {k: asdict(v) for k, v in diffs.items()}
                stats_entry[f"p_vs_{suffix}"] = {k: tests[(method.name, baseline, k)] for k in TESTED}
                stats_entry[f"holm_p_vs_{suffix}"] = {
                    k: adjusted[(index, (method.name, baseline, k))] for k in TESTED
                }
            if "diff_vs_grpo" in stats_entry:
                row += [
                    t_interval(np.subtract(own[k], values["grpo"][k])).text(100) for k in ("accuracy", "gap")
                ]
                row.append(_p_text(stats_entry["holm_p_vs_grpo"].values()))
                stats_entry["holm_p"] = stats_entry["holm_p_vs_grpo"]  # the earlier name
            else:
                row += ["–", "–", "–"]
            if clustered:
                for key in ("ari", "nmi"):
                    scored = [r[key] for r in runs if key in r]
                    row.append(t_interval(scored).text(1, 2) if scored else "–")
                    if scored:
                        stats_entry[key] = asdict(t_interval(scored))
            lines.append("| " + " | ".join(row) + " |")
            entry["methods"][method.name] = stats_entry
        against_control = [m for m in setting.methods if (m.name, CONTROL, TESTED[0]) in tests]
        if against_control:
            header = ["vs control (grpo_renorm)", "Δ Acc", f"Δ {focus}", "Δ Gap", "Holm p (Acc, Gap)"]
            lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            for method in against_control:
                own, base = values[method.name], values[CONTROL]
                cells = [
                    t_interval(np.subtract(own[k], base[k])).text(100) for k in ("accuracy", focus, "gap")
                ]
                cells.append(_p_text(entry["methods"][method.name]["holm_p_vs_control"].values()))
                lines.append("| " + " | ".join([f"{method.name} − {CONTROL}", *cells]) + " |")
        lines.append("")
        summary["settings"].append(entry)
    rule = (
        f"Adam (β1 {t.adam_beta1:g}, β2 {t.adam_beta2:g}, ε {t.adam_epsilon:g}, no weight decay)"
        if t.optimizer == "adam"
        else "plain SGD"
    )
    lines.append(
        f"Simulated policy, test accuracy in percent; ± is the 95 % t-interval over seeds; "
        f"Δ = method − GRPO (or − the control arm grpo_renorm: GRPO + FairGRPO's batch re-normalisation, no "
        f"group weights), paired by seed (same data, start and random streams), with the two-sided paired "
        f"t-test's p-value on accuracy and on gap, Holm-corrected over each question's whole family of tests. "
        f"{t.steps} steps of {t.prompts_per_step} prompts × {t.generations} answers, {rule}, learning rate {t.lr:g}."
    )
    return "\n".join(lines).strip() + "\n", summary


def _p_text(pvalues: Iterable[float | None]) -> str:
    return ", ".join("–" if p is None else f"{p:.2g}" for p in pvalues)
