"""The input pipeline: sources, decoding, the paper's augmentation and crops, shards."""
