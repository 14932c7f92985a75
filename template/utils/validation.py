"""Checks for config values: each one is checked once, when the config is read (parse_config.py),
so that a bad value fails with its key path before anything is built or written."""

import difflib
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

from utils.util import InputError

# a rule: what the value must be, in words, and the test of a value
Rule = tuple[str, Callable[[Any], bool]]


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(low: int) -> Rule:
    return f"an integer >= {low}", lambda v: is_int(v) and v >= low


def number(low: float) -> Rule:
    return f"a number >= {low}", lambda v: is_number(v) and v >= low


def one_of(*choices: Any) -> Rule:
    return f"one of {', '.join(map(str, choices))}", lambda v: any(
        v == c and type(v) is type(c) for c in choices
    )


def optional(rule: Rule) -> Rule:
    return f"{rule[0]} or null", lambda v: v is None or rule[1](v)


BOOLEAN: Rule = ("true or false", lambda v: isinstance(v, bool))
TEXT: Rule = ("a non-empty string", lambda v: isinstance(v, str) and v != "")
FRACTION_OR_COUNT: Rule = (
    "a fraction in [0, 1) like 0.1 or a sample count >= 0",
    lambda v: (isinstance(v, float) and 0 <= v < 1) or (is_int(v) and v >= 0),
)
MONITOR: Rule = (
    "'min METRIC', 'max METRIC' or 'off' (e.g. 'min val_loss')",
    lambda v: (
        v == "off"
        or (isinstance(v, str) and len(v.split()) == 2 and v.split()[0] in ("min", "max"))
    ),
)


def check(value: Any, rule: Rule, key_path: str) -> None:
    """An error naming ``key_path`` unless ``value`` follows ``rule``."""
    expected, test = rule
    if not test(value):
        raise InputError(f"{key_path}: must be {expected}, got {value!r}")


def lookup(module: ModuleType, name: Any, key_path: str) -> Any:
    """``module.<name>`` if ``name`` is one of its choices, else an error listing them.

    The choices are the module's ``__all__``, or else the public callables it defines itself.
    """
    names = getattr(module, "__all__", None) or [
        n for n, v in vars(module).items() if getattr(v, "__module__", None) == module.__name__
    ]
    choices = sorted(n for n in names if not n.startswith("_") and callable(getattr(module, n)))
    if name not in choices:
        hint = difflib.get_close_matches(str(name), choices, n=1)
        suggestion = f"did you mean '{hint[0]}'? " if hint else ""
        raise InputError(
            f"{key_path}: unknown {name!r} in {module.__name__}; {suggestion}"
            f"choose from {', '.join(choices)}"
        )
    return getattr(module, name)


def check_arguments(factory: Any, n_positional: int, kwargs: dict[str, Any], key_path: str) -> None:
    """An error naming ``key_path`` unless ``factory(n_positional values, **kwargs)`` binds."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins have no signature: let the call decide
        return
    try:
        signature.bind(*[None] * n_positional, **kwargs)
    except TypeError as err:
        accepted = [p for p in signature.parameters if p not in ("self", "args", "kwargs")]
        raise InputError(
            f"{key_path}: {err} for {factory.__name__}; it accepts {', '.join(accepted)}"
        ) from None
