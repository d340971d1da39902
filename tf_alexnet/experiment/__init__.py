"""The paper's claims as experiments: claims.py (what), runner.py (the runs), table.py (the
table and Figure 1), __main__.py (python -m tf_alexnet.experiment)."""
