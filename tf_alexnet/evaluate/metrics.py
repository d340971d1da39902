"""Top-1 / top-5 error and loss of a predict function over an evaluation dataset."""

import numpy as np

from tf_alexnet.errors import DataError


def label_map(data_classes, model_classes):
    """Index array: dataset label -> model label, matched by class name."""
    index = {name: i for i, name in enumerate(model_classes)}
    unknown = [name for name in data_classes if name not in index]
    if unknown:
        raise DataError(
            f"{len(unknown)} class(es) of the data are unknown to the model: "
            f"{unknown[:5]}{' ...' if len(unknown) > 5 else ''}."
        )
    return np.array([index[name] for name in data_classes], np.int32)


def score(predict_fn, dataset, mapping=None, max_examples=0):
    """{"top1_error", "top5_error", "top1_accuracy", "top5_accuracy", "loss", "num_images"}
    of `predict_fn` over `dataset` (accuracy = 1 - error; most readers read accuracy, the
    paper reports error); no top-5 for a model of 5 classes or fewer (always right).

    `predict_fn(images)` returns probabilities (numpy or tensor); `mapping` maps the
    dataset's labels to the model's (by class name, see `label_map`)."""
    top1 = top5 = seen = classes = 0
    loss = 0.0
    for images, labels in dataset:
        labels = labels.numpy()
        if mapping is not None:
            labels = mapping[labels]
        if max_examples:
            keep = min(len(labels), max_examples - seen)
            images, labels = images[:keep], labels[:keep]
        probs = np.asarray(predict_fn(images))
        classes = probs.shape[-1]
        ranked = np.argsort(-probs, axis=1)[:, :5]
        top1 += int(np.sum(ranked[:, 0] == labels))
        top5 += int(np.sum(np.any(ranked == labels[:, None], axis=1)))
        loss += float(-np.sum(np.log(np.maximum(probs[np.arange(len(labels)), labels], 1e-12))))
        seen += len(labels)
        if max_examples and seen >= max_examples:
            break
    if seen == 0:
        raise DataError("The evaluation split is empty.")
    result = dict(
        top1_error=1.0 - top1 / seen,
        top5_error=1.0 - top5 / seen,
        top1_accuracy=top1 / seen,
        top5_accuracy=top5 / seen,
        loss=loss / seen,
        num_images=seen,
    )
    if classes <= 5:
        del result["top5_error"], result["top5_accuracy"]
    return result


def describe_errors(result):
    """ "top-1 accuracy 87.66% (error 0.1234), top-5 accuracy 98.77% (error 0.0123)"
    (top-5 only where it was scored)."""
    parts = []
    for k in ("1", "5"):
        if f"top{k}_error" in result:
            error = result[f"top{k}_error"]
            parts.append(f"top-{k} accuracy {100 * (1 - error):.2f}% (error {error:.4f})")
    return ", ".join(parts)
