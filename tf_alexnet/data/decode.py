"""Encoded images to squares: the formats' magic numbers, header checks and fused decoding.

Every image first becomes a `resize` x `resize` square (256 in the paper): shorter side
resized to 256, then the central 256 x 256 (§2 of the paper). Large JPEGs are decoded at
1/2, 1/4 or 1/8 scale by libjpeg while still at least `resize` pixels on the shorter side.
Pixels stay in 0..255 units.
"""

import os

import tensorflow as tf

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")
# How each format's files begin (GIF87a and GIF89a share "GIF8").
MAGIC = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n", "gif": b"GIF8", "bmp": b"BM"}
DEFAULT_MAX_PIXELS = 100_000_000


def check_image_file(path):
    """'' if the file looks like a whole image, else why not (empty, not an image, cut off).

    Reads 16 bytes at each end, no decoding: a zero-byte file, a file of another kind, and a
    JPEG or PNG missing its end marker (a truncated download) are caught here, before they
    reach the pipeline.
    """
    size = os.path.getsize(path)
    if size == 0:
        return "empty file"
    with open(path, "rb") as f:
        head = f.read(16)
        f.seek(max(0, size - 16))
        tail = f.read(16)
    if not head.startswith(tuple(MAGIC.values())):
        return "not a JPEG/PNG/GIF/BMP image"
    if head.startswith(MAGIC["jpeg"]) and b"\xff\xd9" not in tail:
        return "truncated JPEG (no end-of-image marker)"
    if head.startswith(MAGIC["png"]) and b"IEND" not in tail:
        return "truncated PNG (no IEND chunk)"
    return ""


def _jpeg_ratio(side, size):
    """Index of the largest libjpeg scale 1/1, 1/2, 1/4, 1/8 that keeps side >= size."""
    return (
        tf.cast(side >= 2 * size, tf.int32)
        + tf.cast(side >= 4 * size, tf.int32)
        + tf.cast(side >= 8 * size, tf.int32)
    )


def center_square(image):
    shape = tf.shape(image)
    side = tf.minimum(shape[0], shape[1])
    top, left = (shape[0] - side) // 2, (shape[1] - side) // 2
    return image[top : top + side, left : left + side]


def _resize_square(image, size, squash=False):
    """Center square of `image`, resized to size x size float32 (no-op when already so);
    with `squash`, the whole image resized to size x size, aspect ratio not kept, bilinear
    without antialiasing (Caffe's convert_imageset: OpenCV's INTER_LINEAR)."""
    if squash:
        return tf.image.resize(tf.cast(image, tf.float32), [size, size], antialias=False)
    square = center_square(image)
    return tf.cond(
        tf.shape(square)[0] == size,
        lambda: tf.cast(square, tf.float32),
        lambda: tf.image.resize(tf.cast(square, tf.float32), [size, size], antialias=True),
    )


def decode_image(encoded):
    """Any JPEG/PNG/GIF/BMP string to uint8 RGB [h, w, 3] (grayscale, RGBA, CMYK included)."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def image_pixels(encoded):
    """Pixels of an encoded JPEG/PNG/GIF/BMP from its header, without decoding it (0 for
    another kind, which the decoder then refuses)."""
    head = tf.io.decode_raw(tf.strings.substr(encoded, 0, 32), tf.uint8)
    head = tf.cast(tf.pad(head, [[0, 32 - tf.shape(head)[0]]]), tf.int64)

    def number(start, length, big_endian):
        shifts = tf.range(length, dtype=tf.int64) * 8
        shifts = shifts[::-1] if big_endian else shifts
        return tf.reduce_sum(tf.bitwise.left_shift(head[start : start + length], shifts))

    def bmp():
        height = number(22, 4, False)
        return number(18, 4, False) * tf.abs(tf.where(height >= 2**31, height - 2**32, height))

    def kind(magic):
        return tf.strings.substr(encoded, 0, len(magic)) == magic

    def jpeg():
        shape = tf.cast(tf.image.extract_jpeg_shape(encoded), tf.int64)
        return shape[0] * shape[1]

    return tf.case(
        [
            (tf.io.is_jpeg(encoded), jpeg),
            (kind(MAGIC["png"]), lambda: number(16, 4, True) * number(20, 4, True)),
            (kind(MAGIC["gif"]), lambda: number(6, 2, False) * number(8, 2, False)),
            (kind(MAGIC["bmp"]), bmp),
        ],
        default=lambda: tf.constant(0, tf.int64),
    )


def decode_square(encoded, size, max_pixels=DEFAULT_MAX_PIXELS, squash=False):
    """Encoded image -> float32 [size, size, 3]: shorter side to `size`, central square (or
    `squash`ed). An image of more than `max_pixels` (from its header) fails like a corrupt
    one."""
    check = tf.debugging.assert_less_equal(
        image_pixels(encoded),
        tf.constant(int(max_pixels), tf.int64),
        message=f"image larger than {max_pixels / 1e6:g} megapixels (--max_megapixels)",
    )
    with tf.control_dependencies([check]):
        encoded = tf.identity(encoded)

    def jpeg():
        shape = tf.image.extract_jpeg_shape(encoded)
        ratio = _jpeg_ratio(tf.minimum(shape[0], shape[1]), size)
        if squash:  # Caffe resized the full-size pixels
            ratio = tf.constant(0)
        branches = [
            lambda r=r: tf.io.decode_jpeg(encoded, channels=3, ratio=r) for r in (1, 2, 4, 8)
        ]
        return _resize_square(tf.switch_case(ratio, branches), size, squash)

    return tf.cond(
        tf.io.is_jpeg(encoded), jpeg, lambda: _resize_square(decode_image(encoded), size, squash)
    )


def to_square(image_or_encoded, size, max_pixels=DEFAULT_MAX_PIXELS, squash=False):
    """`decode_square` for strings; the same resize for already decoded images."""
    if image_or_encoded.dtype == tf.string:
        return decode_square(image_or_encoded, size, max_pixels, squash)
    return _resize_square(image_or_encoded, size, squash)
