"""The paper's figures from a trained workdir; `python -m tf_alexnet.report` (this __main__)."""
