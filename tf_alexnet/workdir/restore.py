"""`restore_model(workdir)`: a trained (or imported) workdir as its AlexNet.

The model is built from WORKDIR/model.json and stats.json (network, class names,
preprocessing) and restored from the newest checkpoint that restores
(tf_alexnet/workdir/checkpoints.py); a live run's checkpoints are read as they are written.
"""

from tf_alexnet.model.alexnet import build_network
from tf_alexnet.workdir.checkpoints import restore_into
from tf_alexnet.workdir.info import load_network


def restore_model(workdir, checkpoint=None, name="alexnet"):
    """The AlexNet of a workdir with the weights of `checkpoint` (default: the newest that
    restores), its class names and preprocessing; the checkpoint it holds is
    `model.checkpoint_path`. `name`: the Keras model's (an ensemble's members differ)."""
    model = build_network(load_network(workdir), name=name)
    restore_into(model, workdir, checkpoint)
    return model
