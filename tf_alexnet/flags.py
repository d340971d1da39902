"""The command-line flags, generated from the config fields, and their reading into configs.

`define(Config, flag_values, exclude)` defines one flag per `setting()` field of
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


def flag_fields(config_class, exclude=(), defaults=None):
    """{flag name: (field, default)} of the flags of `config_class` and of the configs it
    nests, with the defaults a `nested(Config, name=value)` field gives (the first field of
    a name wins: its default and help text)."""
    out = {}
    for field, inner in _fields(config_class):
        if inner:
            given = getattr(field.default_factory, "keywords", {})
            for name, value in flag_fields(inner, exclude, given).items():
                out.setdefault(name, value)
        elif flag_name(field) and flag_name(field) not in exclude:
            default = (defaults or {}).get(field.name, field.default)
            out.setdefault(flag_name(field), (field, default))
    return out


def define(config_class, flag_values=FLAGS, exclude=()):
    """Defines the flags of `config_class`, but not those named in `exclude`."""
    for name, (field, default) in flag_fields(config_class, exclude).items():
        meta = field.metadata
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


def _build(config_class, flag_values, given, defaults=None):
    """`config_class` from `defaults` (a nested field's), then the flags, then `given`."""
    values = dict(defaults or {})
    for field, inner in _fields(config_class):
        name = flag_name(field)
        if inner:
            values[field.name] = _build(inner, flag_values, {},
                                        getattr(field.default_factory, "keywords", {}))
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
