"""Small helpers shared by train.py, test.py and the trainer."""

import json
import os
import random
from collections.abc import Iterable, Iterator
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import torch


class InputError(Exception):
    """Bad configuration, command line or file.

    The message is one line that names the culprit (key path, file, value) and how to fix it;
    train.py and test.py print it without a traceback.
    """


class TrainingInterrupted(Exception):
    """SIGINT or SIGTERM stopped training after a checkpoint was saved; exit code 128 + signal."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


def read_json(path: str | Path) -> Any:
    """Read a JSON file; a syntax error names the file, line and column."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; check the path") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror}); check its permissions") from None
    except json.JSONDecodeError as err:
        raise InputError(
            f"{path}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None


def write_json(content: Any, path: str | Path) -> None:
    """Write JSON atomically: readers see the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=4)
        handle.write("\n")
    os.replace(tmp, path)


def result_lines(results: dict[str, Any]) -> list[str]:
    """``    key : value`` lines, keys padded to one column (at least 15 wide, as ever)."""
    width = max([14, *map(len, results)]) + 1
    return [f"    {key:{width}s}: {value}" for key, value in results.items()]


def inf_loop(data_loader: Iterable) -> Iterator:
    """Endless iteration over a data loader, for training by number of steps."""
    for loader in repeat(data_loader):
        yield from loader


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) so that runs repeat exactly on CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The state of every random generator, as plain data a checkpoint can hold."""
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [
            name,
            torch.from_numpy(keys.astype(np.int64)),
            position,
            has_gauss,
            cached_gaussian,
        ],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators saved by ``rng_state``, so a resumed run draws the same numbers."""
    random.setstate(state["python"])
    name, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state(
        (name, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian)
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
