"""Checksums of prepared shards, and `prepare --verify DIR`.

prepare writes `<split>.checksums.json` beside the shards: for each shard its size in bytes,
the CRC-32 of the whole file and, for fixed-length raw shards, the CRC-32 of each record
(computed by reading the shards back once after writing). Training does not check them:
raw records carry no checksum of their own, and a CRC of every 196 KB record read would
cost about as much host time as reading it. `verify` reads every byte once and names each
damaged shard with its first damaged record, a shard with more or fewer records than
prepare wrote, and a shard that is missing. TFRecord (JPEG) shards also carry TFRecord's
own CRC per record, which every read checks.
"""

import glob
import json
import os
import zlib

from tf_alexnet import validation
from tf_alexnet.data import records
from tf_alexnet.data.records import read_format
from tf_alexnet.errors import DataError

# SPLIT.checksums.json: {shard file name: {bytes, crc32[, record_crc32]}}.
CHECKSUMS_SCHEMA = validation.DictOf(
    validation.Record(
        dict(bytes=validation.Range(0, integer=True), crc32=validation.Range(0, integer=True)),
        dict(record_crc32=validation.ListOf(validation.Range(0, integer=True))),
    )
)

CHUNK = 1 << 20


def _crc_of_file(path):
    crc = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            crc = zlib.crc32(block, crc)
    return crc


def _record_crcs(path, record_bytes):
    with open(path, "rb") as f:
        return [
            zlib.crc32(record)
            for record in iter(lambda: f.read(record_bytes), b"")
            if len(record) == record_bytes
        ]


def write_checksums(directory, split, shard_paths):
    """Writes DIR/<split>.checksums.json for the (complete) `shard_paths`."""
    form = read_format(directory)
    out = {}
    for path in sorted(shard_paths):
        entry = dict(bytes=os.path.getsize(path), crc32=_crc_of_file(path))
        if form.fixed:
            entry["record_crc32"] = _record_crcs(path, form.record_bytes)
        out[os.path.basename(path)] = entry
    with open(os.path.join(directory, f"{split}.checksums.json"), "w") as f:
        json.dump(out, f)


def _shard_problem(path, entry, record_bytes):
    """What differs between shard `path` and its recorded `entry`, or None."""
    if not os.path.exists(path):
        return f"{path}: missing"
    size = os.path.getsize(path)
    if size == entry["bytes"] and _crc_of_file(path) == entry["crc32"]:
        return None
    recorded = entry.get("record_crc32")
    if recorded is None:
        return (
            f"{path}: {size} bytes, CRC-32 {_crc_of_file(path):08x}; prepare wrote "
            f"{entry['bytes']} bytes, CRC-32 {entry['crc32']:08x}"
        )
    found = _record_crcs(path, record_bytes)
    for index, (got, want) in enumerate(zip(found, recorded)):
        if got != want:
            return f"{path}: record {index} differs from what prepare wrote"
    if len(found) > len(recorded):
        return (
            f"{path}: holds {len(found)} records, {len(found) - len(recorded)} more "
            f"than the {len(recorded)} prepare wrote"
        )
    if len(found) < len(recorded) or size % record_bytes:
        return (
            f"{path}: ends early: {len(found)} whole records of the {len(recorded)} prepare wrote"
        )
    return f"{path}: its bytes differ from what prepare wrote"


def verify(directory):
    """(problem lines, shards checked) of the shards of `directory` against their recorded
    checksums; a directory without any is one problem line."""
    if not os.path.isdir(directory):
        what = "not a directory" if os.path.exists(directory) else "no such directory"
        raise DataError(f"{directory}: {what}; give the --output directory prepare wrote.")
    form = read_format(directory)
    tables = sorted(glob.glob(os.path.join(directory, "*.checksums.json")))
    if not tables:
        return [
            f"{directory}: no *.checksums.json (prepared by tf_alexnet before 0.3): "
            "nothing to verify against"
        ], 0
    problems, checked = [], 0
    for table in tables:
        entries = validation.read_record(table, CHECKSUMS_SCHEMA, DataError)
        for name, entry in sorted(entries.items()):
            checked += 1
            path = os.path.join(directory, name)
            problem = _shard_problem(path, entry, form.record_bytes) or _format_problem(
                directory, path, entry, form
            )
            if problem:
                problems.append(problem)
    return problems, checked


def _format_problem(directory, path, entry, form):
    """Where an intact shard is not what format.json says (an edited format.json, which
    `train` would refuse): None, or the problem line."""
    try:
        if form.fixed and entry.get("record_crc32"):
            records.check_record_size(
                directory, path, len(entry["record_crc32"]), form.record_bytes
            )
            if entry["bytes"] != len(entry["record_crc32"]) * form.record_bytes:
                return (
                    f"{path}: {entry['bytes']} bytes are not {len(entry['record_crc32'])} "
                    f"records of {form.size}x{form.size} as {records.FORMAT_JSON} says"
                )
        elif form.image_format == "jpeg" and form.size:
            records.check_jpeg_size(directory, path, form, records.record_parser(form))
    except DataError as e:
        return str(e)
    return None
