"""Every value of config.json is checked here, once, when the config is read, before anything is
built or written. config.schema.json says what each value must be; the code what it cannot."""

import difflib
import inspect
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from jsonschema import Draft4Validator, Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match
from torchvision.transforms import v2

from utils.util import InputError

# Draft 4's "integer" is an int: later drafts also accept 2.0, which range() refuses
Validator = validators.extend(Draft202012Validator, type_checker=Draft4Validator.TYPE_CHECKER)


def validate(config: dict[str, Any], sections: dict[str, tuple], metrics: ModuleType) -> None:
    """Check every value the code reads; ``sections`` name where each ``type`` is looked up and
    how many positional arguments the code passes before the config's ``args``."""
    schema = json.loads((Path(__file__).parent / "config.schema.json").read_text())
    error = best_match(Validator(schema).iter_errors(config))
    if error is not None:
        raise InputError(explain(error))
    for i, name in enumerate(config["metrics"]):
        lookup(metrics, name, f"metrics[{i}]")
    loader = config["data_loader"]["args"]
    steps = enumerate(loader.get("augment", []))
    parts = [(name, config[name], *sections[name]) for name in sections]
    parts += [(f"data_loader.args.augment[{i}]", step, v2, 0) for i, step in steps]
    for path, section, module, n_positional in parts:
        if section is not None:  # lr_scheduler null: no scheduler
            factory = lookup(module, section["type"], f"{path}.type")
            check_arguments(factory, n_positional, section["args"], f"{path}.args")
    split = loader.get("validation_split")
    if isinstance(split, list) and split[0] >= split[1]:
        raise InputError(f"data_loader.args.validation_split: needs i < K in [i, K], got {split}")
    for key, bounds in config.get("tune", {}).get("params", {}).items():
        low, high = bounds.get("low"), bounds.get("high")
        if low is not None and low > high:
            raise InputError(f"tune.params.{key}: low {low} is above high {high}")


def explain(error: ValidationError) -> str:
    """``KEY.PATH: must be <the schema's description>, got <value>``, or which key is missing."""
    parts = list(error.absolute_path)
    if error.validator == "required":
        parts.append(next(key for key in error.validator_value if key not in error.instance))
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
    if error.validator == "required":
        return f"{path}: missing in the config; add it (see config.json)"
    what = error.schema.get("description", error.message)
    return f"{path}: must be {what}, got {error.instance!r}"


def get(config: dict[str, Any], key: str) -> Any:
    """``config[key]``; a missing key is an error that names it."""
    if key not in config:
        raise InputError(f"{key}: missing in the config; add it (see config.json)")
    return config[key]


def lookup(module: ModuleType, name: Any, key_path: str) -> Any:
    """``module.<name>`` if ``name`` is one of the callables of its ``__all__`` (or a transform
    of torchvision.transforms.v2, which has none); else an error that offers those."""
    names = getattr(module, "__all__", None) or [
        n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, v2.Transform)
    ]
    choices = sorted(n for n in names if callable(getattr(module, n)))
    if name not in choices:
        close = difflib.get_close_matches(str(name), choices, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise InputError(
            f"{key_path}: unknown {name!r} in {module.__name__}; {hint}"
            f"choose from {', '.join(choices)}"
        )
    return getattr(module, name)


def check_arguments(factory: Any, n_positional: int, kwargs: dict[str, Any], key_path: str) -> None:
    """An error naming ``key_path`` unless ``factory(n_positional values, **kwargs)`` binds."""
    signature = inspect.signature(factory)
    try:
        signature.bind(*[None] * n_positional, **kwargs)
    except TypeError as err:
        accepted = ", ".join(p for p in signature.parameters if p not in ("self", "args", "kwargs"))
        raise InputError(
            f"{key_path}: {err} for {factory.__name__}; it accepts {accepted}"
        ) from None
