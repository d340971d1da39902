"""Benchmarks measured in one run; `python -m tf_alexnet.bench` (this __main__)."""
