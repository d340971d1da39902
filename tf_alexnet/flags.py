"""The command-line flags, generated from the config fields, and their reading into configs.

`define(Config, flag_values, exclude, **defaults)` defines one flag per `setting()` field of
the config and of the configs it nests (a flag shared by two nested configs, such as
`--batch_size`, is defined once and read into both); `read(Config, flag_values)` builds the
validated config. This is the only module that reads flags. Each command passes its own
`flag_values` (absl's global FLAGS when run as `python -m`), so that tests can run commands
in-process; a command leaves out (`exclude`) the flags it does not honour, e.g. evaluate
takes sizes and mean from the trained model and has no --image_size or --mean.
"""

import dataclasses

from absl import flags

from tf_alexnet.settings import flag_name, nested_class

FLAGS = flags.FLAGS
_DEFINE = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float,
           str: flags.DEFINE_string}


def _fields(config_class):
    """(field, nested config class or None) of a config class, in declaration order."""
    for field in dataclasses.fields(config_class):
        yield field, nested_class(field)


def flag_fields(config_class, exclude=()):
    """{flag name: field} of the flags of `config_class` and the configs it nests (the first
    field of a name wins: its default and help text)."""
    out = {}
    for field, inner in _fields(config_class):
        if inner:
            out.update({k: v for k, v in flag_fields(inner, exclude).items() if k not in out})
        elif flag_name(field) and flag_name(field) not in exclude:
            out.setdefault(flag_name(field), field)
    return out


def define(config_class, flag_values=FLAGS, exclude=(), **defaults):
    """Defines the flags of `config_class` (defaults: the fields', or `defaults[name]`)."""
    for name, field in flag_fields(config_class, exclude).items():
        meta = field.metadata
        default = defaults.get(name, field.default)
        kwargs = dict(flag_values=flag_values, module_name="tf_alexnet.flags")
        if isinstance(default, tuple):
            flags.DEFINE_list(name, [str(v) for v in default], meta["help"], **kwargs)
        elif meta["choices"]:
            flags.DEFINE_enum(name, default, list(meta["choices"]), meta["help"], **kwargs)
        else:
            _DEFINE[type(default)](name, default, meta["help"], **kwargs)
        for alias in meta["aliases"]:
            flags.DEFINE_alias(alias, name, flag_values=flag_values)


def read(config_class, flag_values=FLAGS, **given):
    """The validated `config_class` of the flags defined (fields without a flag keep their
    defaults; `given` fields override)."""
    return _build(config_class, flag_values, given).validate()


def _build(config_class, flag_values, given):
    values = {}
    for field, inner in _fields(config_class):
        name = flag_name(field)
        if inner:
            values[field.name] = _build(inner, flag_values, {})
        elif name and name in flag_values:
            value = flag_values[name].value
            if isinstance(field.default, tuple):
                value = tuple(field.metadata["item"](v) for v in value)
            values[field.name] = value
    return config_class(**{**values, **given})


def resolved_flagfile(config_class, flag_values=FLAGS):
    """The command's flags with their values, as a flagfile that reproduces the run."""
    lines = ["# Resolved flags of this run: python -m tf_alexnet.train --flagfile THIS_FILE"]
    for name in sorted(flag_fields(config_class)):
        if name in flag_values:
            flag = flag_values[name]
            lines.append(flag.serialize() if flag.value is not None else f"# --{name} unset")
    return "\n".join(lines) + "\n"
