"""Exports: the serving graph, SavedModel versions for TF Serving, TFLite files, loading them
back; `python -m tf_alexnet.export` is this package's __main__."""
