"""Every check a model must pass, run once per grouping (towers, fused, none).

The checks themselves live in tests/helpers.py (`check_*`); each compares against an
independent reference: the paper's parameter counts, a reloaded file, the float32 model,
a process without tf_alexnet loading the export.
"""

import numpy as np
import pytest

from helpers import (
    TINY,
    check_keras_round_trip,
    check_precision,
    clean_process_probabilities,
    export_for_check,
    saved_model_ops,
)
from tf_alexnet.model.alexnet import build_alexnet
from tf_alexnet.model.spec import AlexNetSpec

GROUPINGS = ("towers", "fused", "none")
# The paper's network has 60,965,224 parameters with conv2/4/5 in two groups (its §3.5 and
# Figure 2); without groups those layers see all inputs: 62,378,344.
PAPER_PARAMETERS = {"towers": 60_965_224, "fused": 60_965_224, "none": 62_378_344}


# The comparisons here are to float32 rounding: no TF32 on GPUs (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("exact_float32")


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_build_has_the_papers_parameters(grouping):
    model = build_alexnet(grouping=grouping)
    assert model.count_params() == PAPER_PARAMETERS[grouping]
    assert model.input_shape == (None, 227, 227, 3) and model.output_shape == (None, 1000)


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_keras_file_round_trip(grouping, tmp_path):
    check_keras_round_trip(build_alexnet(**TINY, grouping=grouping, seed=4), tmp_path)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("grouping", GROUPINGS)
def test_precision_policy(grouping, policy):
    check_precision(lambda: build_alexnet(**TINY, grouping=grouping, seed=5), policy)


def test_export_serves_the_same_function(tmp_path):
    """Each grouping's workdir exports to a SavedModel that a process without tf_alexnet
    runs to the Keras model's probabilities, with no XLA-compiled function in it."""
    exports, wants = [], []
    for grouping in GROUPINGS:
        model = build_alexnet(**TINY, grouping=grouping, seed=6)
        version, inputs, want = export_for_check(
            model, AlexNetSpec.create(**TINY), grouping, tmp_path / grouping
        )
        ops, xla = saved_model_ops(version)
        assert not xla and "Conv2D" in ops, grouping
        exports.append((version, inputs))
        wants.append(want)
    for grouping, got, want in zip(GROUPINGS, clean_process_probabilities(exports), wants):
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=grouping)
