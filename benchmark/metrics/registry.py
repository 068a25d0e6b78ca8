"""The metric registry: every metric clinfair reports, declared once.

A :class:`Metric` says what a key means and how to read it: its label, whether a larger value
is better, whether it is stored ×100 (PP and EOD, as the paper prints them) and a one-line
description. Everything that names, orders, labels or ranks metrics reads this table: the
report's key lists (:data:`PAPER_KEYS`, :data:`STANDARD_METRICS`, the score layer's
``GROUP_METRICS`` / ``SUMMARY_METRICS``), the lm-eval task YAMLs and their aggregations, the
training callback's ``select_by`` choices, the leaderboard columns, ``clinfair metrics``'s
summary, the demo and study tables.

Keys are unique within a layer; the same key may mean different things in two layers (the
paper protocol's ``accuracy`` is one-vs-rest and group-averaged, the standard layer's is the
exact-match rate), so a metric is looked up by ``(layer, key)``. The order of a layer is the
order of its keys in the report.

Adding a metric: declare it here, compute it where its layer is computed (``paper.py``,
``standard.py`` or ``scores.py`` beside this module), and test it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Paper protocol (``report["paper"]``): overall and per-dataset values.
PAPER = "paper"
#: Standard layer (``report["standard"]``): per-group metrics with bootstrap intervals.
STANDARD = "standard"
#: Score layer (``report["scores"]``): per-group metrics from label probabilities.
SCORE_GROUP = "score_group"
#: Score layer: across-group summaries of one attribute.
SCORE_SUMMARY = "score_summary"
#: Per run, from the predictions (``clinfair eval``'s task results, lm-eval's per-sample means).
RUN = "run"
#: Worst group of the paper protocol's per-group values, over every task and attribute (training
#: callback's ``select_by``).
VALIDATION = "validation"
#: ``clinfair study``: the planted minority group's accuracy and gap.
STUDY = "study"


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One reported metric and how to read it."""

    key: str
    label: str
    #: ``None``: no better direction (e.g. selection rate), so no worst group.
    higher_is_better: bool | None
    #: Stored ×100 (PP, EOD), as the paper prints them; every other value is a fraction.
    percent: bool
    description: str
    layer: str
    #: A gap or equity measure: the leaderboard never lets a run that does not really answer win it.
    fairness: bool = True

    @property
    def arrow(self) -> str:
        """↑ when higher is better, ↓ when lower is, nothing without a direction."""
        return {True: "↑", False: "↓", None: ""}[self.higher_is_better]

    @property
    def scaled_label(self) -> str:
        """The label with its scale, e.g. ``PP (×100)``."""
        return f"{self.label} (×100)" if self.percent else self.label


_PAPER_AVERAGING = "averaged over the groups of each attribute (sex; age group), then over the attributes"

METRICS: tuple[Metric, ...] = (
    # Paper protocol: per-group values (each also in report["paper_detail"] per group) ...
    Metric(
        key="accuracy",
        label="Acc",
        higher_is_better=True,
        percent=False,
        description=f"accuracy, paper protocol: mean over labels of one-vs-rest accuracy, {_PAPER_AVERAGING}",
        layer=PAPER,
        fairness=False,
    ),
    Metric(
        key="f1",
        label="F1",
        higher_is_better=True,
        percent=False,
        description="F1, paper protocol: macro over labels, averaged like Acc",
        layer=PAPER,
        fairness=False,
    ),
    Metric(
        key="tpr",
        label="TPR",
        higher_is_better=True,
        percent=False,
        description="true-positive rate, macro over labels, averaged like Acc",
        layer=PAPER,
        fairness=False,
    ),
    Metric(
        key="fpr",
        label="FPR",
        higher_is_better=False,
        percent=False,
        description="false-positive rate, macro over labels, averaged like Acc",
        layer=PAPER,
        fairness=False,
    ),
    Metric(
        key="fdr",
        label="FDR",
        higher_is_better=False,
        percent=False,
        description="false-discovery rate, macro over labels, averaged like Acc",
        layer=PAPER,
        fairness=False,
    ),
    # ... and their spread across groups.
    Metric(
        key="acc_gap",
        label="ΔAcc",
        higher_is_better=False,
        percent=False,
        description="accuracy gap (max - min over groups)",
        layer=PAPER,
    ),
    Metric(
        key="f1_gap",
        label="ΔF1",
        higher_is_better=False,
        percent=False,
        description="F1 gap (max - min over groups)",
        layer=PAPER,
    ),
    Metric(
        key="tpr_gap",
        label="EOD (ΔTPR)",
        higher_is_better=False,
        percent=False,
        description="true-positive-rate gap (max - min over groups)",
        layer=PAPER,
    ),
    Metric(
        key="fpr_gap",
        label="ΔFPR",
        higher_is_better=False,
        percent=False,
        description="false-positive-rate gap (max - min over groups)",
        layer=PAPER,
    ),
    Metric(
        key="fdr_gap",
        label="PP (ΔFDR)",
        higher_is_better=False,
        percent=False,
        description="false-discovery-rate gap (max - min over groups)",
        layer=PAPER,
    ),
    Metric(
        key="acc_std",
        label="σAcc",
        higher_is_better=False,
        percent=False,
        description="standard deviation of accuracy over groups (ddof = 1)",
        layer=PAPER,
    ),
    Metric(
        key="f1_std",
        label="σF1",
        higher_is_better=False,
        percent=False,
        description="standard deviation of F1 over groups (ddof = 1)",
        layer=PAPER,
    ),
    Metric(
        key="acc_es",
        label="Acc_ES",
        higher_is_better=True,
        percent=False,
        description="equity-scaled accuracy = Acc / (1 + σAcc)",
        layer=PAPER,
    ),
    Metric(
        key="f1_es",
        label="F1_ES",
        higher_is_better=True,
        percent=False,
        description="equity-scaled F1 = F1 / (1 + σF1)",
        layer=PAPER,
    ),
    Metric(
        key="pp",
        label="PP",
        higher_is_better=False,
        percent=True,
        description="predictive parity: FDR gap (max - min over groups) x100",
        layer=PAPER,
    ),
    Metric(
        key="eod",
        label="EOD",
        higher_is_better=False,
        percent=True,
        description="equal opportunity difference: TPR gap (max - min over groups) x100",
        layer=PAPER,
    ),
    # Standard layer: per group, with bootstrap intervals.
    Metric(
        key="accuracy",
        label="accuracy",
        higher_is_better=True,
        percent=False,
        description="exact match of the predicted and true label sets; an invalid answer is wrong",
        layer=STANDARD,
        fairness=False,
    ),
    Metric(
        key="macro_f1",
        label="macro-F1",
        higher_is_better=True,
        percent=False,
        description="unweighted mean over the label space of one-vs-rest F1",
        layer=STANDARD,
        fairness=False,
    ),
    Metric(
        key="tpr",
        label="TPR",
        higher_is_better=True,
        percent=False,
        description="true-positive rate (binary: of the positive label; else macro)",
        layer=STANDARD,
        fairness=False,
    ),
    Metric(
        key="fpr",
        label="FPR",
        higher_is_better=False,
        percent=False,
        description="false-positive rate (binary: of the positive label; else macro)",
        layer=STANDARD,
        fairness=False,
    ),
    Metric(
        key="fdr",
        label="FDR",
        higher_is_better=False,
        percent=False,
        description="false-discovery rate (binary: of the positive label; else macro)",
        layer=STANDARD,
        fairness=False,
    ),
    Metric(
        key="selection_rate",
        label="selection rate",
        higher_is_better=None,
        percent=False,
        description="share of rows predicting the positive label (else the mean over labels)",
        layer=STANDARD,
        fairness=False,
    ),
    # Score layer: per group, from the label probabilities.
    Metric(
        key="auroc",
        label="AUROC",
        higher_is_better=True,
        percent=False,
        description="AUROC from the label probabilities (binary; one-vs-rest macro; per finding for multi-label)",
        layer=SCORE_GROUP,
        fairness=False,
    ),
    Metric(
        key="brier",
        label="Brier",
        higher_is_better=False,
        percent=False,
        description="Brier score of the label probabilities",
        layer=SCORE_GROUP,
        fairness=False,
    ),
    Metric(
        key="ece",
        label="ECE",
        higher_is_better=False,
        percent=False,
        description="expected calibration error (15 equal-width bins)",
        layer=SCORE_GROUP,
        fairness=False,
    ),
    # Score layer: across the groups of one attribute.
    Metric(
        key="worst_group_auroc",
        label="worst AUROC",
        higher_is_better=True,
        percent=False,
        description="lowest per-group AUROC",
        layer=SCORE_SUMMARY,
    ),
    Metric(
        key="auroc_gap",
        label="ΔAUROC",
        higher_is_better=False,
        percent=False,
        description="AUROC gap (max - min over groups)",
        layer=SCORE_SUMMARY,
    ),
    Metric(
        key="es_auroc",
        label="ES-AUROC",
        higher_is_better=True,
        percent=False,
        description="equity-scaled AUROC = AUROC / (1 + Σ|AUROC_g - AUROC|)",
        layer=SCORE_SUMMARY,
    ),
    Metric(
        key="worst_group_ece",
        label="worst ECE",
        higher_is_better=False,
        percent=False,
        description="highest per-group ECE",
        layer=SCORE_SUMMARY,
    ),
    Metric(
        key="ece_gap",
        label="ΔECE",
        higher_is_better=False,
        percent=False,
        description="gap of the expected calibration error (15 equal-width bins) over groups",
        layer=SCORE_SUMMARY,
    ),
    Metric(
        key="equalized_odds_difference",
        label="EqOdds",
        higher_is_better=False,
        percent=False,
        description="binary only: max of the TPR gap and the FPR gap at the score threshold",
        layer=SCORE_SUMMARY,
    ),
    # Per run.
    Metric(
        key="exact_match",
        label="Exact acc",
        higher_is_better=True,
        percent=False,
        description="share of answers equal to the label set",
        layer=RUN,
        fairness=False,
    ),
    Metric(
        key="invalid",
        label="Invalid",
        higher_is_better=False,
        percent=False,
        description="share of answers that did not parse",
        layer=RUN,
        fairness=False,
    ),
    # Training-time validation (select_by).
    Metric(
        key="worst_group_accuracy",
        label="worst-group Acc",
        higher_is_better=True,
        percent=False,
        description="lowest paper-protocol accuracy over every task, attribute and group with rows",
        layer=VALIDATION,
    ),
    Metric(
        key="worst_group_f1",
        label="worst-group F1",
        higher_is_better=True,
        percent=False,
        description="lowest paper-protocol F1 over every task, attribute and group with rows",
        layer=VALIDATION,
    ),
    # clinfair study: the planted minority group.
    Metric(
        key="minority_acc",
        label="Minority acc",
        higher_is_better=True,
        percent=False,
        description="exact accuracy on the planted minority group",
        layer=STUDY,
        fairness=False,
    ),
    Metric(
        key="minority_gap",
        label="Minority gap",
        higher_is_better=False,
        percent=False,
        description="exact accuracy of the other rows minus the minority's",
        layer=STUDY,
    ),
)

_BY_KEY = {(m.layer, m.key): m for m in METRICS}
if len(_BY_KEY) != len(METRICS):  # pragma: no cover - a declaration error, caught on import
    raise RuntimeError("a metric is declared twice in the same layer")


def get_metric(layer: str, key: str) -> Metric:
    """The metric ``key`` of ``layer``; KeyError names the layer's keys."""
    try:
        return _BY_KEY[(layer, key)]
    except KeyError:
        raise KeyError(
            f"no metric {key!r} in layer {layer!r}; it has {', '.join(layer_keys(layer))}"
        ) from None


def select_metrics(layer: str, selection: tuple[str, ...] | None = None) -> tuple[Metric, ...]:
    """The metrics of a layer in report order, or those named by ``selection`` in its order."""
    if selection is not None:
        return tuple(get_metric(layer, key) for key in selection)
    return tuple(m for m in METRICS if m.layer == layer)


def layer_keys(layer: str) -> tuple[str, ...]:
    """The keys of a layer in report order."""
    return tuple(m.key for m in METRICS if m.layer == layer)


#: Keys of ``report["paper"]["overall"]`` and of each ``report["paper"]["by_dataset"][name]``.
PAPER_KEYS = layer_keys(PAPER)
#: The paper protocol's per-group values (``report["paper_detail"]``); every other paper key is a mean,
#: gap or std of one of them across groups, or derived from those (ES, PP, EOD).
PAPER_GROUP_METRICS = ("accuracy", "f1", "tpr", "fpr", "fdr")
#: Whether a larger value of each paper key is better (rates of errors, gaps and spreads: smaller).
PAPER_KEY_HIGHER_IS_BETTER = {m.key: m.higher_is_better for m in select_metrics(PAPER)}
#: Keys of each standard-layer group's ``metrics`` and of each attribute's ``summary``.
STANDARD_METRICS = layer_keys(STANDARD)
