"""`import_weights(config)`: Caffe's bvlc_alexnet as a workdir that evaluate, export,
predict and report take as they take a trained one.

The workdir's model.json records the network (LRN `caffe` across all channels), the 1000
ILSVRC-2012 synsets in Caffe's order (sorted) with their readable names in exports, and
Caffe's preprocessing: the whole image squashed to 256 x 256 (aspect ratio not kept), minus
the mean image of `--mean_file` (or bvlc_alexnet's mean pixel), the center 227 crop; RGB
input, conv1's input channels reversed at import. The weights are saved as checkpoint
`ckpt-0` of the towers model (the same function as the fused one).
"""

import os

import tensorflow as tf

from tf_alexnet.errors import WorkdirError, describe
from tf_alexnet.model import caffe_weights
from tf_alexnet.model.alexnet import build_from_spec
from tf_alexnet.model.caffe_files import caffe_preprocessing, read_weights
from tf_alexnet.model.class_names import ilsvrc_synsets
from tf_alexnet.model.groupings import set_canonical_weights
from tf_alexnet.workdir.checkpoints import checkpoint_layers, checkpoint_prefixes
from tf_alexnet.workdir.info import RunInfo, save_record


def import_weights(config):
    """Writes the workdir of `config` (an ImportConfig); returns its AlexNet."""
    if checkpoint_prefixes(config.workdir):
        raise WorkdirError(
            f"{config.workdir} already holds checkpoints; import into a new --workdir."
        )
    weights, spec = read_weights(config)
    preprocessing = caffe_preprocessing(spec, config.mean_file)
    try:
        model = build_from_spec(
            spec,
            "towers",
            None,
            class_names=ilsvrc_synsets(spec.num_classes),
            preprocessing=preprocessing,
        )
        set_canonical_weights(model, "towers", weights)
    except ValueError as e:  # Keras' shape checks: a network the file's numbers cannot make
        raise caffe_weights.WeightsError(
            f"{config.caffemodel or config.npy}: its network cannot be built ({describe(e)})."
        ) from None
    source = f"{'caffemodel' if config.caffemodel else 'npy'}:{config.caffemodel or config.npy}"
    save_record(config.workdir, model, RunInfo(source))
    checkpoint = tf.train.Checkpoint(model=model, layers=checkpoint_layers(model))
    tf.train.CheckpointManager(checkpoint, os.path.join(config.workdir, "checkpoints"), 1).save(
        checkpoint_number=0
    )
    return model
