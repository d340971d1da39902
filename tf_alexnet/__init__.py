"""tf_alexnet: the AlexNet of Krizhevsky, Sutskever and Hinton (NIPS 2012) in TF 2 / Keras 3.

Importing the package turns on oneDNN before TensorFlow is imported: on the AMD CPUs this
project runs on, oneDNN is off by default and the convolutions run about 2x slower without it
(`python -m tf_alexnet.bench model` with TF_ENABLE_ONEDNN_OPTS=0 and =1 shows it). The variable only has an effect when set before `import tensorflow`,
so every entry point (`python -m tf_alexnet.<cmd>`) gets it from here. An explicit setting in
the environment wins.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

__version__ = "0.1.0"
