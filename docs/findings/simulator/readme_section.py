"""The README's simulator section and quoted.json, from this folder's artifacts.

    python docs/findings/simulator/readme_section.py docs/findings/simulator > section.md

reads ``summary.json`` (the default study, Adam) and ``sgd/summary.json`` (the same under
``--optimizer sgd``), prints the README section "Advantage estimators in isolation" and writes
``quoted.json`` (every number the section quotes, with the file and key path it comes from;
``tests/test_findings_simulator.py`` checks them). ``perf.txt`` (the output of
``perf/simulate_speed.py``), when present, gives the Adam / SGD time ratio the section quotes.
"""

import json
import re
import sys
from pathlib import Path

root = sys.argv[1]  # folder holding summary.json (adam) and sgd/summary.json
files = {"adam": "summary.json", "sgd": "sgd/summary.json"}
data = {k: json.load(open(f"{root}/{v}")) for k, v in files.items()}
quoted = []


def get(rule, path):
    node = data[rule]
    for part in path:
        node = node[part]
    return node


def setting_index(rule, question, label):
    for i, s in enumerate(data[rule]["settings"]):
        if s["question"] == question and s["label"] == label:
            return i
    raise KeyError((question, label))


def iv(rule, question, label, *path, digits=1, scale=100):
    i = setting_index(rule, question, label)
    full = ["settings", i, *path]
    d = get(rule, full)
    text = f"{d['mean'] * scale:.{digits}f}" + (
        "" if d["half"] is None else f" ± {d['half'] * scale:.{digits}f}"
    )
    quoted.append(
        {
            "text": text,
            "file": files[rule],
            "path": full,
            "kind": "interval",
            "scale": scale,
            "digits": digits,
        }
    )
    return text


def num(rule, path, fmt):
    value = get(rule, path)
    text = format(value, fmt)
    quoted.append({"text": text, "file": files[rule], "path": list(path), "kind": "number", "format": fmt})
    return text


def pv(rule, question, label, *path):
    i = setting_index(rule, question, label)
    full = ["settings", i, *path]
    p = get(rule, full)
    text = f"{p:.2g}"
    quoted.append({"text": text, "file": files[rule], "path": full, "kind": "p"})
    return text


shares = ["1%", "5%", "10%", "25%", "50%"]
rows = []
for sh in shares:
    lab = f"minority share {sh}"
    r = [sh, iv("adam", "a", lab, "methods", "grpo", "gap")]
    r.append(
        iv("adam", "a", lab, "methods", "fairgrpo", "diff_vs_grpo", "gap")
        + " / "
        + iv("adam", "a", lab, "methods", "fairgrpo", "diff_vs_grpo", "accuracy")
    )
    r.append(iv("adam", "a", lab, "methods", "grpo_renorm", "diff_vs_grpo", "gap"))
    r.append(
        iv("adam", "a", lab, "methods", "fairgrpo", "diff_vs_control", "gap")
        + f" (p {pv('adam', 'a', lab, 'methods', 'fairgrpo', 'holm_p_vs_control', 'gap')})"
    )
    for m in ("resampling", "dro", "dr_grpo", "rloo", "reinforce_pp_baseline"):
        r.append(iv("adam", "a", lab, "methods", m, "diff_vs_grpo", "gap"))
    rows.append("| " + " | ".join(r) + " |")
json.dump(
    {
        "about": "Every number the README's simulator findings quote: the text as printed and where it comes from (file relative to this folder, a path of keys into it; interval: mean ± half of the 95 % t-interval times scale, digits decimals; p: Holm-adjusted p-value, 2 significant digits).",
        "quoted": quoted,
    },
    open(f"{root}/quoted.json", "w"),
    indent=1,
)


def perf_sentence():
    path = Path(root) / "perf.txt"
    if not path.is_file():
        return "`perf/simulate_speed.py` times both rules in one run."
    text = path.read_text()
    ratio = re.search(r"default study time adam / sgd: ([0-9.]+)", text).group(1)
    walls = dict(re.findall(r"default study, (adam|sgd): .* in ([0-9.]+) s", text))
    loads = re.findall(r"load average (?:before|after): ([0-9.]+)", text)
    return (
        f"`perf/simulate_speed.py` timed both rules one after the other: {walls['sgd']} s (SGD) and "
        f"{walls['adam']} s (Adam), ratio Adam / SGD {ratio}, at load {loads[0]} to {loads[-1]} "
        "(`perf.txt` in the artifact folder). Both are above the 60 s goal; the machine was never idle "
        "while these were measured (the earlier 44 s was 4720 runs under SGD at load 0.4), so the idle "
        "figure is not known."
    )


# ---- the README section -------------------------------------------------------------------------
def A(lab, *p, **k):
    return iv("adam", "a", f"minority share {lab}", *p, **k)


b10 = "minority share 10%"


def B(*p, **k):
    return iv("adam", "b", b10, *p, **k)


def C(*p, **k):
    return iv("adam", "c", b10, *p, **k)


noisy, blurred = "30 % label noise, equal shares", "3x feature noise, equal shares"


def D(lab, *p, **k):
    return iv("adam", "d", lab, *p, **k)


def S(lab, *p, **k):
    return iv("sgd", "a", f"minority share {lab}", *p, **k)


def P(rule, q, lab, *p):
    return pv(rule, q, lab, *p)


adam, sgd = data["adam"], data["sgd"]
fam = adam["holm_family_sizes"]
section = (
    f"""### Advantage estimators in isolation: `clinfair simulate`

`clinfair simulate --out sim`: the default study, 100 seeds per cell (20 for question (c)),
{num("adam", ["runs"], "d")} runs. A softmax policy over two answers, with shared and group-specific
weights on features where a majority group reads cue a and a minority reads cue b, is
trained by policy gradient on the rewards of 8 sampled answers for each of 16 prompts per
step (100 steps), with each method's advantages computed by its pure estimator from the
method registry (`trainers/advantage/`; `trainers/simulate.py` documents the world).
**The update is Adam, as the trainers' AdamW**: β1 = 0.9, β2 = 0.999, ε = 1e-8, no weight
decay, learning rate 0.02 (chosen once, by GRPO alone: of 0.01, 0.02, 0.05 and 0.1 the rate
whose GRPO population accuracy in the 10 % world came closest to the SGD rule's, 96.3 vs
96.4 %). The earlier rule, plain SGD at learning rate 1 (`--optimizer sgd`), steps further
when the advantages are larger, so any method that rescales them gets a bigger step for
free; Adam's update does not change under a global rescaling. Every setting also runs a
control arm, `grpo_renorm`: GRPO's advantages with FairGRPO's batch re-normalisation and no
group weights, which isolates FairGRPO's re-weighting from its change of scale. Gap = max −
min group test accuracy; Δ = method − GRPO (or − the control) paired by seed, in points, ±
the 95 % t-interval over seeds; p = two-sided paired t-test, Holm-corrected over each
question's whole family of tests ((a) {fam["a"]}, (b) {fam["b"]}, (c) {fam["c"]}, (d) {fam["d"]} tests: accuracy and gap of every
comparison of every setting of the question). Artifacts: [docs/findings/simulator/](docs/findings/simulator/)
(`report.md`, `summary.json` with every seed's values, the settings, commit, machine and
wall time; `quoted.json` lists every number quoted here, checked by
`tests/test_findings_simulator.py`; `sgd/` the same study under the SGD rule). Wall time
{num("adam", ["wall_s"], ".0f")} s under Adam and {num("sgd", ["wall_s"], ".0f")} s under SGD, each with 2 workers on a 2-core machine
shared with other jobs (load about {num("adam", ["machine", "load_average_1min"], ".0f")} and {num("sgd", ["machine", "load_average_1min"], ".0f")} at the end);
{perf_sentence()}

(a) Minority share from 1 % to 50 % (Δgap; FairGRPO also Δacc; FairGRPO − control with its Holm p on gap):

| minority share | GRPO gap | FairGRPO Δgap / Δacc | control Δgap | FairGRPO − control Δgap | resampling Δgap | group-DRO Δgap | Dr.GRPO Δgap | RLOO Δgap | REINFORCE++-baseline Δgap |
|---|---|---|---|---|---|---|---|---|---|
"""
    + "\n".join(rows)
    + f"""

(b) Ablations at a 10 % minority (GRPO gap {B("methods", "grpo", "gap")}): FairGRPO as in the paper,
√(N·r̄) with a cumulative window, Δgap {B("methods", "fairgrpo", "diff_vs_grpo", "gap")}; the authors' code
(`fair_mode: reference`) {B("methods", "fairgrpo_reference", "diff_vs_grpo", "gap")}; √N·r̄ alone
{B("methods", "T=sqrt_n_times_mean", "diff_vs_grpo", "gap")}; N alone {B("methods", "T=n", "diff_vs_grpo", "gap")}; r̄ alone
{B("methods", "T=r", "diff_vs_grpo", "gap")}; batch window {B("methods", "window=batch", "diff_vs_grpo", "gap")}; exponential
window {B("methods", "window=exponential", "diff_vs_grpo", "gap")}; the control {B("methods", "grpo_renorm", "diff_vs_grpo", "gap")}.
Every variant shrinks the gap more than the control does (FairGRPO − control
{B("methods", "fairgrpo", "diff_vs_control", "gap")}, N alone − control {B("methods", "T=n", "diff_vs_control", "gap")}, r̄ alone − control
{B("methods", "T=r", "diff_vs_control", "gap")}; Holm p ≤ {P("adam", "b", b10, "methods", "T=r", "holm_p_vs_control", "gap")}), at no accuracy cost.

(c) Explicit groups vs K-means clusters at a 10 % minority (20 seeds; GRPO gap
{C("methods", "grpo", "gap")}): FairGRPO Δgap {C("methods", "fairgrpo", "diff_vs_grpo", "gap")} (Holm p
{P("adam", "c", b10, "methods", "fairgrpo", "holm_p_vs_grpo", "gap")}), FairGRPO_ND {C("methods", "fairgrpo_nd", "diff_vs_grpo", "gap")} (Holm p
{P("adam", "c", b10, "methods", "fairgrpo_nd", "holm_p_vs_grpo", "gap")}); against the control neither difference is significant
with 20 seeds (FairGRPO {C("methods", "fairgrpo", "diff_vs_control", "gap")}, Holm p
{P("adam", "c", b10, "methods", "fairgrpo", "holm_p_vs_control", "gap")}; FairGRPO_ND {C("methods", "fairgrpo_nd", "diff_vs_control", "gap")}, Holm p
{P("adam", "c", b10, "methods", "fairgrpo_nd", "holm_p_vs_control", "gap")}). The clusters barely match the groups (ARI
{C("methods", "fairgrpo_nd", "ari", scale=1, digits=2)}, NMI {C("methods", "fairgrpo_nd", "nmi", scale=1, digits=2)}): K-means on reward vectors groups
prompts by how hard they currently are.

(d) Stress test, equal shares, one group with 30 % label noise or with 3× feature noise
(its gap comes from data quality, not representation): GRPO's gaps are
{D(noisy, "methods", "grpo", "gap")} and {D(blurred, "methods", "grpo", "gap")} points; FairGRPO changes them by
{D(noisy, "methods", "fairgrpo", "diff_vs_grpo", "gap")} and {D(blurred, "methods", "fairgrpo", "diff_vs_grpo", "gap")} (Holm p
{P("adam", "d", noisy, "methods", "fairgrpo", "holm_p_vs_grpo", "gap")} and {P("adam", "d", blurred, "methods", "fairgrpo", "holm_p_vs_grpo", "gap")}); resampling ({D(noisy, "methods", "resampling", "diff_vs_grpo", "gap")} and
{D(blurred, "methods", "resampling", "diff_vs_grpo", "gap")}) and the control change nothing either.

**What the step size did.** Under the SGD rule the same study gave FairGRPO at a 5 %
minority Δgap {S("5%", "methods", "fairgrpo", "diff_vs_grpo", "gap")} and +{S("5%", "methods", "fairgrpo", "diff_vs_grpo", "minority acc")} points of
minority accuracy, of which the control arm already got +{S("5%", "methods", "grpo_renorm", "diff_vs_grpo", "minority acc")} (FairGRPO −
control {S("5%", "methods", "fairgrpo", "diff_vs_control", "minority acc")}): a large part of the benefit was the larger step. Under
Adam, FairGRPO gains {A("5%", "methods", "fairgrpo", "diff_vs_grpo", "minority acc")} points of minority accuracy, the control
{A("5%", "methods", "grpo_renorm", "diff_vs_grpo", "minority acc")}, FairGRPO − control {A("5%", "methods", "fairgrpo", "diff_vs_control", "minority acc")}
(10 %: {A("10%", "methods", "fairgrpo", "diff_vs_grpo", "minority acc")}, {A("10%", "methods", "grpo_renorm", "diff_vs_grpo", "minority acc")},
{A("10%", "methods", "fairgrpo", "diff_vs_control", "minority acc")}). GRPO itself leaves a smaller gap under Adam
({A("5%", "methods", "grpo", "gap")} points at 5 %, against {S("5%", "methods", "grpo", "gap")} under SGD).

**Reading it.** With the trainers' optimiser, FairGRPO's group weights still shrink an
under-represented minority's gap at no cost in accuracy, beyond what its re-normalisation
alone does (at 5 %: {A("5%", "methods", "fairgrpo", "diff_vs_grpo", "gap")} points against GRPO,
{A("5%", "methods", "fairgrpo", "diff_vs_control", "gap")} against the control), but the effect is about a third of the
SGD rule's estimate. Re-weighting the data does far more: resampling's Δgap is
{A("5%", "methods", "resampling", "diff_vs_grpo", "gap")} at 5 % and {A("1%", "methods", "resampling", "diff_vs_grpo", "gap")} at
1 %, where FairGRPO does nothing ({A("1%", "methods", "fairgrpo", "diff_vs_grpo", "gap")}): a group with ~10 training
prompts is rarely in the batch, and scaling its advantage cannot make up for prompts it does
not see; group-DRO even widens the 1 % gap ({A("1%", "methods", "dro", "diff_vs_grpo", "gap")}). From 25 % on there
is little left to fix. Dr.GRPO and RLOO, which widened the gap under SGD (their advantages
have no std division), no longer do. Where the gap comes from label noise or degraded
images, no method closes it. N alone remains the temperature that does best here.
"""
)
print(section)
json.dump(
    {
        "about": "Every number the README's simulator findings quote: the text as printed and where it comes from (file relative to this folder, a path of keys into it; interval: mean ± half of the 95 % t-interval times scale, digits decimals; p: Holm-adjusted p-value, 2 significant digits).",
        "quoted": quoted,
    },
    open(f"{root}/quoted.json", "w"),
    indent=1,
)
