"""A training run's directory: its RunInfo record and its checkpoints.

    workdir/model.json        RunInfo: the network (AlexNetSpec), grouping, class names, the
                              evaluation preprocessing (sizes, mean mode) and the data spec
    workdir/stats.json        the dataset statistics used (mean, PCA), and mean_image.npy
    workdir/flags.txt         the resolved flags, a flagfile that reproduces the run
    workdir/checkpoints/      tf.train.CheckpointManager checkpoints
    workdir/train, eval/      TensorBoard summaries
    workdir/.lock             held by the trainer writing into it
"""
