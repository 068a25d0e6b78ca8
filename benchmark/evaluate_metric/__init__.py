"""clinfair's Hugging Face ``evaluate`` metric, loadable offline: ``evaluate.load(METRIC_PATH)``."""

from pathlib import Path

#: The metric's folder: ``evaluate.load`` takes a folder holding ``<folder name>.py``.
METRIC_PATH = str(Path(__file__).parent / "clinfair_fairness")
