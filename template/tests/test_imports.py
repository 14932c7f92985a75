"""Importing the project does no work: no files, no logging set-up, no threads, nothing heavy
that only some runs need."""

import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

IMPORT_EVERYTHING = r"""
import importlib, json, logging, pkgutil, sys, threading
names = ["train", "test", "parse_config"]
for package in ("base", "data_loader", "logger", "model", "trainer", "utils"):
    path = importlib.import_module(package).__path__
    names += [package] + [m.name for m in pkgutil.walk_packages(path, package + ".")]
for name in names:
    importlib.import_module(name)
print(json.dumps({
    "imported": len(names),
    "handlers": len(logging.getLogger().handlers),
    "threads": threading.active_count(),
    "modules": sorted(sys.modules),
}))
"""


def project_files() -> set[Path]:
    return {p for p in PROJECT.rglob("*") if "__pycache__" not in p.parts}


@functools.cache
def import_everything() -> dict:
    """Every module of the project imported in a fresh interpreter, from an empty folder: what
    was loaded and set up, and which files appeared there or in the project (the result is
    shared: a logger's tests check its own lazy imports with it)."""
    before = project_files()
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            [sys.executable, "-B", "-c", IMPORT_EVERYTHING],
            cwd=folder,
            env={**os.environ, "PYTHONPATH": str(PROJECT)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout.strip().splitlines()[-1])
        found["written"] = sorted(map(str, [*Path(folder).iterdir(), *project_files() - before]))
    return found


def test_importing_every_module_does_no_work():
    found = import_everything()
    assert found["imported"] > 20
    assert (found["handlers"], found["threads"], found["written"]) == (0, 1, [])
    # the elastic launcher is imported by distributed runs only
    assert "torch.distributed.launcher.api" not in found["modules"]
