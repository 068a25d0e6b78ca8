"""clinfair evaluation harness: generation backends, fairness metrics, results files and the CLI."""
