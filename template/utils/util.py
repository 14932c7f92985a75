"""Small helpers shared by train.py, test.py and the trainer."""

import inspect
import json
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch


class InputError(Exception):
    """Bad config, command line or file: one line naming the culprit and the fix, no traceback."""


class TrainingInterrupted(Exception):
    """SIGINT or SIGTERM stopped training after a checkpoint; args: message, signal number."""


@contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO]:
    """Write to a temporary file renamed to ``path`` at the end: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open(mode, encoding=None if "b" in mode else "utf-8") as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path: str | Path) -> Any:
    """Read a JSON file; a syntax error names the file, line and column."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:  # missing, a folder, no permission
        raise InputError(f"{path}: cannot read it ({err.strerror}); check the path") from None
    except json.JSONDecodeError as err:  # "MESSAGE: line L column C (char N)"
        raise InputError(f"{path}: invalid JSON, {err}") from None


def declared(factory: Callable, **values: Any) -> dict[str, Any]:
    """Those of ``values`` that ``factory``'s signature names, None left out (its default)."""
    names = inspect.signature(factory).parameters
    return {key: value for key, value in values.items() if key in names and value is not None}


def write_json(content: Any, path: Path) -> None:
    with atomic_open(path) as handle:
        handle.write(json.dumps(content, indent=4) + "\n")


def result_lines(results: dict[str, Any]) -> list[str]:
    """``    key : value`` lines, keys padded to one column (at least 15 wide, as ever)."""
    width = max([14, *map(len, results)]) + 1
    return [f"    {key:{width}s}: {value}" for key, value in results.items()]


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) so that runs repeat exactly on CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The state of every random generator, as plain data a checkpoint can hold."""
    name, keys, *rest = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [name, keys.tolist(), *rest],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all(),  # [] without CUDA
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators saved by ``rng_state``, so a resumed run draws the same numbers."""
    random.setstate(state["python"])
    np.random.set_state(tuple(state["numpy"]))
    torch.set_rng_state(state["torch"])
    torch.cuda.set_rng_state_all(state["cuda"])  # without CUDA: queued, never run
