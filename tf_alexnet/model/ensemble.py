"""Several networks as one model (the paper's Table 2: the predictions of 5 CNNs averaged).

    EnsembleAverage             layer: logits of each member -> log of the mean softmax
    AlexNetEnsemble             registered model: AlexNet members, their mean; it answers
                                `class_names`, `preprocessing`, `spec` as its first member
    ensemble_model(members)     AlexNetEnsemble(members)

The output is log(mean of the members' probabilities): every consumer of logits (evaluation,
the serving signatures, TFLite, `decode_predictions`) applies a softmax, and softmax(log p)
is p itself, so an ensemble evaluates and exports as any single model does. A registered
layer, not a Lambda: the `.keras` file loads with Keras' default safe_mode.
"""

import keras


@keras.saving.register_keras_serializable(package="tf_alexnet")
class EnsembleAverage(keras.layers.Layer):
    """[logits [B, C]] * K -> log(mean_k softmax(logits_k)) [B, C], in float32."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, inputs):
        ops = keras.ops
        probabilities = [ops.softmax(ops.cast(x, "float32"), axis=-1) for x in inputs]
        total = probabilities[0]
        for p in probabilities[1:]:  # in order, as keras.layers.Average sums
            total = total + p
        return ops.log(ops.maximum(total / len(probabilities), 1e-30))

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="tf_alexnet")
class AlexNetEnsemble(keras.Model):
    """AlexNets of one input side as one model: log of their mean softmax (float32).

    Its config is its members' configs, so a `.keras` file of it reloads (default
    safe_mode) after `import tf_alexnet`; `class_names`, `preprocessing`, `spec` and
    `grouping` are the first member's (`tf_alexnet.workdir.ensemble.restore_ensemble`
    refuses members that differ in classes or preprocessing)."""

    def __init__(self, members, name="ensemble", **kwargs):
        members = [
            m if isinstance(m, keras.Model) else keras.saving.deserialize_keras_object(m)
            for m in members
        ]
        if not members:
            raise ValueError("An ensemble needs at least one member.")
        inputs = keras.Input(members[0].input_shape[1:], name="images")
        outputs = EnsembleAverage(name="mean")([m(inputs) for m in members])
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        object.__setattr__(self, "members", tuple(members))  # layers already; not again

    first = property(lambda self: self.members[0])
    class_names = property(lambda self: self.first.class_names)
    preprocessing = property(lambda self: self.first.preprocessing)
    preprocessor = property(lambda self: self.first.preprocessor)
    spec = property(lambda self: self.first.spec)
    grouping = property(lambda self: self.first.grouping)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "members": [keras.saving.serialize_keras_object(m) for m in self.members],
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def ensemble_model(members, name="ensemble"):
    """The `AlexNetEnsemble` of `members` (AlexNets of the same input side)."""
    return AlexNetEnsemble(list(members), name=name)
