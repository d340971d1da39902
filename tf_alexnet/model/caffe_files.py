"""Caffe's bvlc_alexnet files read: weights (.caffemodel or .npy, checked against a
.prototxt), the mean image (.binaryproto) and Caffe's preprocessing.

`import_weights` (tf_alexnet/workdir/importer.py) writes them as a workdir;
`AlexNet(weights=...)` (tf_alexnet/model/pretrained.py) loads them directly.
"""

from tf_alexnet.validation import finite
import tensorflow as tf

from tf_alexnet.data.stats import Preprocessing, Stats
from tf_alexnet.model import caffe_format, caffe_weights, weight_files

CAFFE_RESIZE = 256


def read_weights(config):
    """(canonical weights, spec) of --caffemodel or --npy, checked against --prototxt when
    given; a file that is not one raises WeightsError naming it."""
    weights, spec = _read_weights(config)
    if not config.prototxt:
        return weights, spec
    with open(config.prototxt) as f:
        text = f.read()
    try:
        side, layers = caffe_format.read_prototxt(text)
        return weights, caffe_weights.spec_with_prototxt(spec, side, layers)
    except caffe_weights.WeightsError as e:
        raise caffe_weights.WeightsError(f"{config.prototxt}: {e}.") from None
    except Exception as e:  # text_format's ParseError
        raise caffe_weights.WeightsError(
            f"{config.prototxt}: cannot be read as a Caffe prototxt ({str(e)[:200]})."
        ) from None


def _read_weights(config):
    path = config.caffemodel or config.npy
    with open(path, "rb") as f:
        data = f.read()
    try:
        if config.caffemodel:
            return caffe_weights.from_caffe(caffe_format.read_net(data))
        return caffe_weights.from_npy(weight_files.load_layers(data))
    except caffe_weights.WeightsError as e:
        raise caffe_weights.WeightsError(f"{path}: {e}.") from None
    except weight_files.ForbiddenGlobal as e:
        raise caffe_weights.WeightsError(
            f"{path}: refused: its pickle calls {e}, which a weights file never needs "
            "(only numpy's array rebuilders are allowed); nothing of it was run."
        ) from None
    except Exception as e:  # protobuf's DecodeError, pickle's errors, bad shapes
        raise caffe_weights.WeightsError(
            f"{path}: cannot be read as a {'Caffe model' if config.caffemodel else '.npy'} "
            f"({type(e).__name__}: {str(e)[:200]})."
        ) from None


def caffe_stats(mean_file):
    """Stats with the mean image of a Caffe .binaryproto, else bvlc_alexnet's mean pixel."""
    if not mean_file:
        return Stats(mean_rgb=caffe_weights.CAFFE_MEAN_RGB, source="bvlc_alexnet mean pixel")
    with open(mean_file, "rb") as f:
        data = f.read()
    try:
        mean = caffe_format.read_mean(data)
    except Exception as e:
        raise caffe_weights.WeightsError(
            f"{mean_file}: not a Caffe mean image ({type(e).__name__}: {str(e)[:200]})."
        ) from None
    mean = finite(mean, f"{mean_file}: the mean image", caffe_weights.WeightsError, ("H", "W", 3))
    if mean.shape[:2] != (CAFFE_RESIZE, CAFFE_RESIZE):
        mean = tf.image.resize(mean, [CAFFE_RESIZE, CAFFE_RESIZE]).numpy()
    return Stats(
        mean_rgb=tuple(float(m) for m in mean.mean((0, 1))), mean_image=mean, source=mean_file
    )


def caffe_preprocessing(spec, mean_file):
    """Caffe's transform for a network of `spec`: the whole image squashed to 256 x 256
    (for 227), minus the mean image of `mean_file` (or bvlc_alexnet's mean pixel)."""
    stats = caffe_stats(mean_file)
    resize = int(round(spec.image_size * CAFFE_RESIZE / 227))  # 256 for bvlc_alexnet
    return Preprocessing(
        spec.image_size,
        resize,
        "image" if stats.mean_image is not None else "channel",
        stats,
        resize_mode="squash",
    )
