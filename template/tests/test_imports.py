"""Importing the project does no work: no files, no logging set-up, no threads, nothing heavy
that only some runs need; each command imports what it uses when it first uses it."""

import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
# what `train.py --help` never needs: torchvision (its package imports its models, ops and
# torch._dynamo: seconds), matplotlib, torchmetrics, jsonschema, the trainer, the logger's backend
NOT_FOR_HELP = {
    "torch._dynamo",
    "torchvision",
    "torchvision.models",
    "matplotlib",
    "torchmetrics",
    "jsonschema",
    "trainer",
    "logger.visualization",  # the only module that imports the logger's backend
}

# what predict.py never needs for a model exported to ONNX: the model's code, the trainer and the
# logger. It does import torchvision (with its models, ops and dynamo), to decode and preprocess the
# images as at test time, and jsonschema and torchmetrics, to check the config's values and metrics.
NOT_FOR_ONNX = {
    "model.model",
    "trainer",
    "logger.visualization",  # the only module that imports the logger's backend
}

# runs a script as `python SCRIPT ARGS...` does, then prints the modules it imported
RUN_SCRIPT = r"""
import json, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
print(json.dumps(sorted(sys.modules)))
"""

# trains the config at argv[1] for its 2 epochs, noting after each whether model.figures is loaded
TRAIN_NOTING_FIGURES = r"""
import json, sys
import torch
import train
from parse_config import ConfigParser

config = ConfigParser.from_args(train.parser().parse_args(["-c", sys.argv[1]]), [])
loaded = []
def note(log):
    loaded.append("model.figures" in sys.modules)
train.train(config, torch.device("cpu"), on_epoch=note)
print(json.dumps(loaded))
"""

# runs a script as `python SCRIPT ARGS...` does; as the interpreter exits, after the script's own
# exit handlers, prints how many objects gc.freeze() set aside from the last garbage collection
COUNT_FROZEN_AT_EXIT = r"""
import atexit, gc, runpy, sys
atexit.register(lambda: print(gc.get_freeze_count()))  # registered first: runs last
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

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


def modules_of(*args: str) -> set[str]:
    """The modules that ``python SCRIPT ARGS...`` (run in the project) imported."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_SCRIPT, *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_help_imports_torch_and_nothing_heavy():
    modules = modules_of("train.py", "--help")
    assert "torch" in modules
    assert modules & NOT_FOR_HELP == set()


def test_a_command_exits_without_collecting_what_it_imported():
    """A last collection walks every object of torch, dynamo and the rest: about 1 s."""
    done = subprocess.run(
        [sys.executable, "-c", COUNT_FROZEN_AT_EXIT, "train.py", "--help"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip().splitlines()[-1]) > 100_000  # torch's objects, at least


def test_figures_are_imported_by_the_first_epoch_that_draws(base_config, tmp_path):
    base_config["trainer"].update(epochs=2, figure_period=2)  # epoch 1 draws nothing
    (tmp_path / "config.json").write_text(json.dumps(base_config))
    done = subprocess.run(
        [sys.executable, "-c", TRAIN_NOTING_FIGURES, str(tmp_path / "config.json")],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [False, True]


def test_predicting_from_onnx_imports_no_training_stack(tested_run, data_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from torchvision.io import write_png

    from tests.conftest import run_script, synthetic_digits

    exported = run_script(
        "export.py",
        "-r",
        str(tested_run[0] / "model_best.pth"),
        "--format",
        "onnx",
        "-o",
        str(tmp_path / "model.onnx"),
    )
    assert exported.returncode == 0, exported.stderr
    write_png(synthetic_digits(1, seed=2)[0], str(tmp_path / "digit.png"))
    out = tmp_path / "predictions"
    modules = modules_of(
        "predict.py",
        "-r",
        str(tmp_path / "model.onnx"),
        str(tmp_path / "digit.png"),
        "-o",
        str(out),
    )
    assert "onnxruntime" in modules and any(out.iterdir())
    assert modules & NOT_FOR_ONNX == set()
