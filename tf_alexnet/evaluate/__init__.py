"""Scoring: top-1/top-5 metrics, and `python -m tf_alexnet.evaluate` (this __main__)."""
