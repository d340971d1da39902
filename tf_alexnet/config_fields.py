"""Config fields that are also flags: each setting declared once, with its default, help
text (units), choices and range.

`setting()` makes a config field that is also a command-line flag (tf_alexnet/flags.py
generates the flags from the fields); `check()` validates a config against what its fields
declare. Plain Python: no TensorFlow is loaded while flags are parsed.
"""

import dataclasses
import functools
import math
import numbers


def setting(default, help, choices=None, within=None, flag=None, aliases=(), item=str):
    """A config field that is also a flag.

    help: the flag's help text, with units. choices: the allowed values (of each item, for
    a tuple). within: the allowed range in interval notation, "[1, )", "(0, 1)". flag: the
    flag's name when not the field's; False: not a flag. aliases: old flag names still
    accepted. item: the type of a tuple's items."""
    return dataclasses.field(
        default=default,
        metadata=dict(
            help=help,
            choices=tuple(choices) if choices else None,
            within=within,
            flag=flag,
            aliases=tuple(aliases),
            item=item,
        ),
    )


def nested(config_class, **defaults):
    """A field holding another config (its fields are flags of the same command), with
    `defaults` for some of its fields."""
    return dataclasses.field(default_factory=functools.partial(config_class, **defaults))


def _field(config_class, name):
    return next(f for f in dataclasses.fields(config_class) if f.name == name)


def same_setting(config_class, name):
    """A new field declared as `config_class.name` is (default, help, range, choices): a
    setting another command shares, still declared once."""
    field = _field(config_class, name)
    return dataclasses.field(default=field.default, metadata=dict(field.metadata))


def nested_class(field):
    """The config class a `nested()` field holds, or None."""
    factory = getattr(field.default_factory, "func", field.default_factory)
    return factory if dataclasses.is_dataclass(factory) else None


def flag_name(field):
    """The flag of a config field, or None when it is not one."""
    if "help" not in field.metadata or field.metadata["flag"] is False:
        return None
    return field.metadata["flag"] or field.name


def describe_range(within):
    """Interval notation in words: "[1, )" -> ">= 1", "(0, 1)" -> "in (0, 1)"."""
    low, high = (part.strip() for part in within[1:-1].split(","))
    if low and high:
        return f"in {within}"
    if low:
        return f"{'>=' if within[0] == '[' else '>'} {low}"
    return f"{'<=' if within[-1] == ']' else '<'} {high}"


def _outside(value, within):
    """Why `value` is outside the interval `within` ("[1, )"), or None."""
    low, high = (part.strip() for part in within[1:-1].split(","))
    if low and (value < float(low) or (within[0] == "(" and value == float(low))):
        return f"in {within}" if high else f"{'>=' if within[0] == '[' else '>'} {low}"
    if high and (value > float(high) or (within[-1] == ")" and value == float(high))):
        return f"in {within}" if low else f"{'<=' if within[-1] == ']' else '<'} {high}"
    return None


def check_argument(owner, argument, value, config_class, field_name):
    """Raises ValueError when `value`, given to the Python API `owner` as `argument`, is
    outside the range declared for the flag of `config_class.field_name` (the same rule as
    the command line's, declared once): "OWNER: ARGUMENT=VALUE must be ... (as --FLAG)"."""
    field = _field(config_class, field_name)
    flag = flag_name(field) or field.name
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        why = "a number"
    elif not math.isfinite(value):
        why = "a finite number"
    else:
        why = field.metadata["within"] and _outside(value, field.metadata["within"])
    if why:
        raise ValueError(f"{owner}: {argument}={value!r} must be {why} (as --{flag}).")
    return value


def check(config, extra=()):
    """Raises ValueError listing every declared choice, range and `extra` check that fails,
    each named by its flag (nan and inf first: no comparison would catch a nan)."""
    problems = []
    for field in dataclasses.fields(config):
        name, value = flag_name(field) or field.name, getattr(config, field.name)
        if dataclasses.is_dataclass(value) or "help" not in field.metadata:
            continue
        items = value if isinstance(value, tuple) else (value,)  # a list flag: each item
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            bad = next(v for v in items if isinstance(v, float) and not math.isfinite(v))
            problems.append(f"--{name} must be a finite number, not {bad}")
            continue
        choices = field.metadata["choices"]
        for item in items if choices else ():
            if item not in choices:
                problems.append(f"--{name} {item!r} is not one of {'|'.join(choices)}")
        within = field.metadata["within"]
        why = within and next(filter(None, (_outside(v, within) for v in items)), None)
        if why:
            problems.append(f"--{name} must be {why}")
    problems += [message for ok, message in extra if not ok]
    if problems:
        raise ValueError("; ".join(problems))
    return config
