"""A training run's directory: its record and its checkpoints.

workdir/model.json        the network (NetworkRecord: AlexNetSpec, grouping, class names,
                          the evaluation preprocessing) and the run (RunInfo: the data)
workdir/stats.json        the dataset statistics used (mean, PCA), and mean_image.npy
workdir/flags.txt         the resolved flags, a flagfile that reproduces the run
workdir/checkpoints/      tf.train.CheckpointManager checkpoints
workdir/train, eval/      TensorBoard summaries
workdir/.lock             held by the trainer writing into it
"""
