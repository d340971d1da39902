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

from tf_alexnet.config_fields import describe_range, flag_name, nested_class

FLAGS = flags.FLAGS
MODULE = "tf_alexnet.flags"  # the module the flags are registered under (a command's own)
_DEFINE = {
    bool: flags.DEFINE_bool,
    int: flags.DEFINE_integer,
    float: flags.DEFINE_float,
    str: flags.DEFINE_string,
}


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
        kwargs = dict(flag_values=flag_values, module_name=MODULE)
        text = meta["help"] + (
            f" Must be {describe_range(meta['within'])}." if meta["within"] else ""
        )
        if isinstance(default, tuple):
            choices = f" Items: {'|'.join(meta['choices'])}." if meta["choices"] else ""
            flags.DEFINE_list(name, [str(v) for v in default], text + choices, **kwargs)
        elif meta["choices"]:
            flags.DEFINE_enum(name, default, list(meta["choices"]), text, **kwargs)
        else:
            _DEFINE[type(default)](name, default, text, **kwargs)
        for alias in meta["aliases"]:
            flags.DEFINE_alias(alias, name, flag_values=flag_values)


def read(config_class, flag_values=FLAGS, **given):
    """The validated `config_class` of the flags defined (fields without a flag keep their
    defaults; `given` fields override)."""
    return _build(config_class, flag_values, given).validate()


def _item(name, kind, text):
    """One item of a list flag as `kind`, or ValueError naming the flag."""
    try:
        return kind(text)
    except ValueError:
        what = {int: "an integer", float: "a number"}.get(kind, f"a {kind.__name__}")
        raise ValueError(f"--{name}: {text!r} is not {what}") from None


def _build(config_class, flag_values, given, defaults=None):
    """`config_class` from `defaults` (a nested field's), then the flags, then `given`."""
    values = dict(defaults or {})
    for field, inner in _fields(config_class):
        name = flag_name(field)
        if inner:
            values[field.name] = _build(
                inner, flag_values, {}, getattr(field.default_factory, "keywords", {})
            )
        elif name and name in flag_values:
            value = flag_values[name].value
            if isinstance(field.default, tuple):
                value = tuple(_item(name, field.metadata["item"], v) for v in value)
            values[field.name] = value
    return config_class(**{**values, **given})


def config_flags(config):
    """{flag name: value} of a config instance and the configs it nests (the first field of
    a name wins, as in `flag_fields`)."""
    out = {}
    for field, inner in _fields(type(config)):
        value = getattr(config, field.name)
        if inner:
            for name, item in config_flags(value).items():
                out.setdefault(name, item)
        elif flag_name(field):
            out.setdefault(flag_name(field), value)
    return out


def given_flags(config, flag_values=None):
    """The flags given: those present on the command line (`flag_values`), or, for a config
    built in Python, those whose value differs from the class's default."""
    if flag_values is not None:
        return {
            name
            for name in config_flags(config)
            if name in flag_values and flag_values[name].present
        }
    default = config_flags(type(config)())
    return {name for name, value in config_flags(config).items() if value != default[name]}


def flag_text(value):
    """A value as absl parses it back: bools true/false, lists comma-joined, floats repr."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(flag_text(v) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


def flagfile_text(config, header=(), leave_out=()):
    """A flagfile of `config`'s values (every flag, `leave_out` excepted), after the comment
    lines `header`: `--flagfile THIS` gives the same config."""
    lines = [f"# {line}" for line in header]
    lines += [
        f"--{name}={flag_text(value)}"
        for name, value in sorted(config_flags(config).items())
        if name not in leave_out
    ]
    return "\n".join(lines) + "\n"


def read_flagfile(config_class, path):
    """The `config_class` a flagfile gives (flags it does not name keep their defaults);
    not validated. Raises ValueError naming the file when absl cannot read it."""
    flag_values = flags.FlagValues()
    define(config_class, flag_values)
    try:
        flag_values(["flagfile", f"--flagfile={path}"])
    except flags.Error as e:
        raise ValueError(f"{path}: {e}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: damaged: not text (not UTF-8).") from None
    return _build(config_class, flag_values, {})
