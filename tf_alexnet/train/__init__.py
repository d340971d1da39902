"""Training: the paper's optimizer, the compiled step, setup, the loop, logs.

`python -m tf_alexnet.train` is this package's __main__; the library entry point is
`tf_alexnet.train.trainer.train(config)`. Nothing here is imported with the package, so the
command can set XLA's environment before TensorFlow loads.
"""
