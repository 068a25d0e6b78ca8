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


@dataclass(frozen=True)
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
        "accuracy",
        "Acc",
        True,
        False,
        f"accuracy, paper protocol: mean over labels of one-vs-rest accuracy, {_PAPER_AVERAGING}",
        PAPER,
        fairness=False,
    ),
    Metric("f1", "F1", True, False, "F1, paper protocol: macro over labels, averaged like Acc", PAPER, False),
    Metric(
        "tpr", "TPR", True, False, "true-positive rate, macro over labels, averaged like Acc", PAPER, False
    ),
    Metric(
        "fpr", "FPR", False, False, "false-positive rate, macro over labels, averaged like Acc", PAPER, False
    ),
    Metric(
        "fdr", "FDR", False, False, "false-discovery rate, macro over labels, averaged like Acc", PAPER, False
    ),
    # ... and their spread across groups.
    Metric("acc_gap", "ΔAcc", False, False, "accuracy gap (max - min over groups)", PAPER),
    Metric("f1_gap", "ΔF1", False, False, "F1 gap (max - min over groups)", PAPER),
    Metric("tpr_gap", "EOD (ΔTPR)", False, False, "true-positive-rate gap (max - min over groups)", PAPER),
    Metric("fpr_gap", "ΔFPR", False, False, "false-positive-rate gap (max - min over groups)", PAPER),
    Metric("fdr_gap", "PP (ΔFDR)", False, False, "false-discovery-rate gap (max - min over groups)", PAPER),
    Metric("acc_std", "σAcc", False, False, "standard deviation of accuracy over groups (ddof = 1)", PAPER),
    Metric("f1_std", "σF1", False, False, "standard deviation of F1 over groups (ddof = 1)", PAPER),
    Metric("acc_es", "Acc_ES", True, False, "equity-scaled accuracy = Acc / (1 + σAcc)", PAPER),
    Metric("f1_es", "F1_ES", True, False, "equity-scaled F1 = F1 / (1 + σF1)", PAPER),
    Metric("pp", "PP", False, True, "predictive parity: FDR gap (max - min over groups) x100", PAPER),
    Metric(
        "eod", "EOD", False, True, "equal opportunity difference: TPR gap (max - min over groups) x100", PAPER
    ),
    # Standard layer: per group, with bootstrap intervals.
    Metric(
        "accuracy",
        "accuracy",
        True,
        False,
        "exact match of the predicted and true label sets; an invalid answer is wrong",
        STANDARD,
        False,
    ),
    Metric(
        "macro_f1",
        "macro-F1",
        True,
        False,
        "unweighted mean over the label space of one-vs-rest F1",
        STANDARD,
        False,
    ),
    Metric(
        "tpr",
        "TPR",
        True,
        False,
        "true-positive rate (binary: of the positive label; else macro)",
        STANDARD,
        False,
    ),
    Metric(
        "fpr",
        "FPR",
        False,
        False,
        "false-positive rate (binary: of the positive label; else macro)",
        STANDARD,
        False,
    ),
    Metric(
        "fdr",
        "FDR",
        False,
        False,
        "false-discovery rate (binary: of the positive label; else macro)",
        STANDARD,
        False,
    ),
    Metric(
        "selection_rate",
        "selection rate",
        None,
        False,
        "share of rows predicting the positive label (else the mean over labels)",
        STANDARD,
        False,
    ),
    # Score layer: per group, from the label probabilities.
    Metric(
        "auroc",
        "AUROC",
        True,
        False,
        "AUROC from the label probabilities (binary; one-vs-rest macro; per finding for multi-label)",
        SCORE_GROUP,
        False,
    ),
    Metric("brier", "Brier", False, False, "Brier score of the label probabilities", SCORE_GROUP, False),
    Metric(
        "ece", "ECE", False, False, "expected calibration error (15 equal-width bins)", SCORE_GROUP, False
    ),
    # Score layer: across the groups of one attribute.
    Metric("worst_group_auroc", "worst AUROC", True, False, "lowest per-group AUROC", SCORE_SUMMARY),
    Metric("auroc_gap", "ΔAUROC", False, False, "AUROC gap (max - min over groups)", SCORE_SUMMARY),
    Metric(
        "es_auroc",
        "ES-AUROC",
        True,
        False,
        "equity-scaled AUROC = AUROC / (1 + Σ|AUROC_g - AUROC|)",
        SCORE_SUMMARY,
    ),
    Metric("worst_group_ece", "worst ECE", False, False, "highest per-group ECE", SCORE_SUMMARY),
    Metric(
        "ece_gap",
        "ΔECE",
        False,
        False,
        "gap of the expected calibration error (15 equal-width bins) over groups",
        SCORE_SUMMARY,
    ),
    Metric(
        "equalized_odds_difference",
        "EqOdds",
        False,
        False,
        "binary only: max of the TPR gap and the FPR gap at the score threshold",
        SCORE_SUMMARY,
    ),
    # Per run.
    Metric("exact_match", "Exact acc", True, False, "share of answers equal to the label set", RUN, False),
    Metric("invalid", "Invalid", False, False, "share of answers that did not parse", RUN, False),
    # Training-time validation (select_by).
    Metric(
        "worst_group_accuracy",
        "worst-group Acc",
        True,
        False,
        "lowest paper-protocol accuracy over every task, attribute and group with rows",
        VALIDATION,
    ),
    Metric(
        "worst_group_f1",
        "worst-group F1",
        True,
        False,
        "lowest paper-protocol F1 over every task, attribute and group with rows",
        VALIDATION,
    ),
    # clinfair study: the planted minority group.
    Metric(
        "minority_acc",
        "Minority acc",
        True,
        False,
        "exact accuracy on the planted minority group",
        STUDY,
        False,
    ),
    Metric(
        "minority_gap",
        "Minority gap",
        False,
        False,
        "exact accuracy of the other rows minus the minority's",
        STUDY,
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
