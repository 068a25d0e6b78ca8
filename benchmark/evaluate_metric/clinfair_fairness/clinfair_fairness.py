"""``clinfair_fairness``: the FairGRPO paper's fairness protocol as a Hugging Face ``evaluate`` metric.

``evaluate.load(<hub name>)`` needs the Hub; this module loads from its local folder
(``evaluate.load(clinfair.benchmark.evaluate_metric.METRIC_PATH)``), offline. It only gathers the
inputs into a predictions table and calls ``clinfair.benchmark.metrics.paper_protocol``, so the
numbers are those of ``clinfair eval`` and ``clinfair metrics``. No label space is needed:
the protocol averages over the labels present in the ground truth.
"""

import datasets
import evaluate

_DEMOGRAPHICS = ("sex", "age_group")

_DESCRIPTION = """\
Group-fairness metrics of a clinical VLM's answers under the FairGRPO paper protocol
(arXiv 2510.19893): per dataset, macro one-vs-rest accuracy, F1, TPR, FPR and FDR averaged
over the sex groups (F, M) and the age groups (A1-A4), the gaps (max - min) and standard
deviations across those groups, PP (100 x FDR gap), EOD (100 x TPR gap) and the
equity-scaled ES = value / (1 + std); overall = mean over the datasets whose age attribute
has at least two groups with rows.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: one list of predicted labels per example, or None for an invalid answer
        (parse completions with `clinfair.tasks.prompts.parse_answer`); invalid answers score as wrong.
    references: one list of ground-truth labels per example.
    dataset: the task key of each example (e.g. "synthetic", "chexpert").
    sex: "F", "M" or None per example.
    age_group: "A1".."A4" or None per example.
Returns:
    The overall values (accuracy, f1, tpr, fpr, fdr, acc_gap, f1_gap, tpr_gap, fpr_gap,
    fdr_gap, acc_std, f1_std, acc_es, f1_es, pp, eod; None where undefined) and
    `by_dataset`: {dataset: the same keys}.
Examples:
    >>> import evaluate
    >>> from clinfair.benchmark.evaluate_metric import METRIC_PATH
    >>> fairness = evaluate.load(METRIC_PATH)
    >>> result = fairness.compute(predictions=[["benign"], None], references=[["benign"], ["malignant"]],
    ...                           dataset=["synthetic"] * 2, sex=["F", "M"], age_group=["A1", "A2"])
    >>> result["by_dataset"]["synthetic"]["acc_gap"]
    1.0
"""

_CITATION = """\
@article{dai2025fairgrpo,
  title   = {FairGRPO: Fair Reinforcement Learning for Equitable Clinical Reasoning},
  author  = {Dai, Shiqi and Dai, Wei and Cheong, Jiaee and Liang, Paul Pu},
  journal = {arXiv preprint arXiv:2510.19893},
  year    = {2025}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ClinfairFairness(evaluate.Metric):
    """The paper protocol of ``clinfair.benchmark.metrics``, fed from ``evaluate``'s inputs."""

    def _info(self):
        labels = datasets.Sequence(datasets.Value("string"))
        return evaluate.MetricInfo(
            module_type="metric",
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": labels,
                    "references": labels,
                    "dataset": datasets.Value("string"),
                    "sex": datasets.Value("string"),
                    "age_group": datasets.Value("string"),
                }
            ),
            reference_urls=["https://arxiv.org/abs/2510.19893"],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Store a batch; an invalid answer (None) is kept as [] and a missing demographic as "".

        ``evaluate`` type-checks each input's first value and refuses a None there, so the
        nulls travel as empty values; :meth:`_compute` turns them back into nulls (a parsed
        answer is never an empty list: the parser returns None instead).
        """
        if predictions is not None:
            predictions = [[] if labels is None else labels for labels in predictions]
        for name in _DEMOGRAPHICS:
            if kwargs.get(name) is not None:
                kwargs[name] = ["" if value is None else value for value in kwargs[name]]
        super().add_batch(predictions=predictions, references=references, **kwargs)

    def _compute(self, predictions, references, dataset, sex, age_group):
        import pandas as pd
        from clinfair.benchmark.metrics import paper_protocol

        frame = pd.DataFrame(
            {
                "dataset": dataset,
                "answer": references,
                "prediction": [labels or None for labels in predictions],
                "sex": [value or None for value in sex],
                "age_group": [value or None for value in age_group],
            }
        )
        paper = paper_protocol(frame)
        return {**paper["overall"], "by_dataset": paper["by_dataset"]}
