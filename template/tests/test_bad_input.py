"""Bad input ends with one line naming the culprit and the fix, exit code 2, and damages nothing."""

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

import test as test_script
import train
from model.model import TorchvisionModel
from tests.conftest import FOLDER, run_dirs, small_config

# CASES' torchvision names in a segmentation project (torchvision.models.segmentation's)
SEGMENTATION_NAMES = {
    "resnet81": "fcn_resnet5",
    "resnet18": "fcn_resnet50",
    "IMAGENET1K_V1": "COCO_WITH_VOC_LABELS_V1",
}

STEP_LR = 'lr_scheduler.args={"step_size": 1, "gamma": 1e40}'


@pytest.fixture(scope="module")
def existing_run(tmp_path_factory, data_dir) -> dict:
    """A finished one-epoch run that every failing command below must leave untouched."""
    root = tmp_path_factory.mktemp("bad_input")
    config = small_config(root / "saved", data_dir)
    config["trainer"]["epochs"] = 1
    (root / "config.json").write_text(json.dumps(config))
    train.cli(["-c", str(root / "config.json")])
    (run,) = run_dirs(root / "saved")
    data = root / "data"
    shutil.copytree(data_dir, data)
    return {"root": root, "run": run, "config": root / "config.json", "data": data}


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def shrunk(weights: dict) -> dict:
    return {k: v[:1] if v.dim() else v for k, v in weights.items()}


def prepare(case: str, run: dict, tmp: Path) -> list[str]:
    """The command-line arguments of one bad-input case (files it needs are made in ``tmp``)."""
    raw = run["data"] / "MNIST" / "raw"
    damaged = tmp / "data" / "MNIST" / "raw"
    checkpoint = run["run"] / "checkpoint-epoch1.pth"
    state = torch.load(checkpoint, weights_only=True)

    def data_copy(damage) -> str:
        shutil.copytree(raw, damaged)
        damage(damaged / "train-images-idx3-ubyte.gz")
        return f"data_loader.args.data_dir={tmp / 'data'}"

    def write(name: str, content: bytes | str) -> str:
        path = tmp / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        return str(path)

    def saved(name: str, value) -> str:
        torch.save(value, tmp / name)
        return str(tmp / name)

    config = ["-c", str(run["config"])]
    return {
        "missing config": lambda: ["-c", str(tmp / "missing.json")],
        "unreadable config": lambda: ["-c", str(tmp)],
        "invalid json": lambda: ["-c", write("bad.json", '{\n  "name": "x",\n  "n_gpu": ,\n}\n')],
        "config not an object": lambda: ["-c", write("list.json", "[1, 2]")],
        "unknown arch": lambda: [*config, "arch.type=NoSuchNet"],
        "unknown optimizer": lambda: [*config, "optimizer.type=Adamm"],
        "unknown lr_scheduler": lambda: [*config, "lr_scheduler.type=Cosine"],
        "unknown data_loader": lambda: [*config, "data_loader.type=CsvLoader"],
        "unknown loss": lambda: [*config, "loss.type=focal"],
        "unknown metric": lambda: [*config, 'metrics=["auroc"]'],
        "wrong argument name": lambda: [*config, "+arch.args.widht=3"],
        "invalid monitor": lambda: [*config, "trainer.monitor=maximum val_loss"],
        "monitor never logged": lambda: [*config, "trainer.monitor=max val_nothing"],
        "validation split out of range": lambda: [*config, "data_loader.args.validation_split=1.5"],
        "negative epochs": lambda: [*config, "trainer.epochs=-1"],
        "no gradient accumulation steps": lambda: [*config, "trainer.grad_accum_steps=0"],
        "unknown override key": lambda: [*config, "trainer.epoch=1"],
        "override of the wrong type": lambda: [*config, "optimizer.args.lr=high"],
        "missing mnist file": lambda: [
            *config,
            f"data_loader.args.data_dir={tmp}",
            "+data_loader.args.download=false",
        ],
        "corrupt mnist file": lambda: [*config, data_copy(lambda p: p.write_bytes(b"garbage"))],
        "truncated mnist file": lambda: [
            *config,
            data_copy(lambda p: p.write_bytes(p.read_bytes()[:999])),
        ],
        "mnist header mismatch": lambda: [
            *config,
            data_copy(
                lambda p: p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[: -28 * 28]))
            ),
        ],
        "not a checkpoint": lambda: ["-r", saved("weights.pth", {"weight": torch.zeros(2)})],
        "text file as checkpoint": lambda: ["-r", write("notes.pth", "just some text")],
        "truncated checkpoint": lambda: ["-r", write("cut.pth", checkpoint.read_bytes()[:5000])],
        "pickled object checkpoint": lambda: ["-r", saved("obj.pth", {**state, "arch": Path("x")})],
        "checkpoint of another arch": lambda: [
            "-r",
            saved(
                "other.pth", {**state, "arch": "OtherNet", "state_dict": {"fc.w": torch.ones(2)}}
            ),
        ],
        "checkpoint weights do not fit": lambda: [
            "-r",
            saved(
                "shapes.pth",
                {**state, "state_dict": shrunk(state["state_dict"])},
            ),
        ],
        "resume path missing": lambda: ["-r", str(tmp / "nowhere" / "model_best.pth")],
        "init-from not a checkpoint": lambda: [
            *config,
            "--init-from",
            saved("weights.pth", {"weight": torch.zeros(2)}),
        ],
        "init-from corrupt safetensors": lambda: [
            *config,
            "--init-from",
            write("weights.safetensors", "not tensors"),
        ],
        "init-from weights do not fit": lambda: [
            *config,
            "--init-from",
            saved("shapes.pth", {**state, "state_dict": shrunk(state["state_dict"])}),
        ],
        "freeze matches no parameter": lambda: [*config, 'trainer.freeze=["backbone"]'],
        "ema_decay out of range": lambda: [*config, "trainer.ema_decay=1.0"],
        "param group matches no parameter": lambda: [
            *config,
            'optimizer.param_groups=[{"prefix": "backbone", "lr_scale": 0.1}]',
        ],
        "unknown torchvision model": lambda: [*config, torchvision(in_this_project("resnet81"))],
        "unknown torchvision weights": lambda: [
            *config,
            torchvision(in_this_project("resnet18"), "IMAGENET"),
        ],
        "mean null without pretrained weights": lambda: [*config, "data_loader.args.mean=null"],
        "negative warmup_steps": lambda: [*config, "lr_scheduler.warmup_steps=-1"],
        "plateau without a monitor": lambda: [
            *config,
            "lr_scheduler.type=ReduceLROnPlateau",
            "lr_scheduler.interval=epoch",
            "lr_scheduler.args={}",
            "trainer.monitor=off",
        ],
        "nan loss": lambda: [
            *config,
            "trainer.epochs=2",
            "lr_scheduler.type=StepLR",
            "lr_scheduler.interval=epoch",
            STEP_LR,
        ],
    }[case]()


def in_this_project(text: str) -> str:
    """``text`` with the names of this project's torchvision library."""
    if TorchvisionModel.library.endswith("segmentation"):
        for name, segmentation_name in SEGMENTATION_NAMES.items():
            text = text.replace(name, segmentation_name)
    return text


def torchvision(name: str, weights: str | None = None) -> str:
    """An arch override: torchvision's ``name`` (the error comes before any weights load)."""
    return "arch=" + json.dumps(
        {"type": "TorchvisionModel", "args": {"name": name, "weights": weights}}
    )


CASES = {  # case: parts of the one-line message
    "missing config": ["missing.json: cannot read it (No such file or directory)"],
    "unreadable config": ["cannot read"],
    "invalid json": ["bad.json: invalid JSON, Expecting value: line 3 column 12"],
    "config not an object": ["list.json: the top level must be a JSON object"],
    "unknown arch": ["arch.type: unknown 'NoSuchNet'", "choose from"],
    "unknown optimizer": ["optimizer.type: unknown 'Adamm'", "did you mean 'Adam'"],
    "unknown lr_scheduler": ["lr_scheduler.type: unknown 'Cosine'", "choose from"],
    "unknown data_loader": ["data_loader.type: unknown 'CsvLoader'", "choose from"],
    "unknown loss": ["loss.type: unknown 'focal'", "choose from"],
    "unknown metric": ["metrics[0]: unknown 'auroc'", "choose from"],
    "wrong argument name": ["arch.args:", "'widht'", "it accepts"],
    "invalid monitor": ["trainer.monitor: must be 'min METRIC', 'max METRIC' or 'off'"],
    "monitor never logged": ["trainer.monitor: 'val_nothing' is never logged; choose one of"],
    "validation split out of range": ["data_loader.args.validation_split", "[0, 1)", "1.5"],
    "negative epochs": ["trainer.epochs: must be an integer >= 1, got -1"],
    "no gradient accumulation steps": ["trainer.grad_accum_steps: must be an integer >= 1, got 0"],
    "unknown override key": ["unknown config key trainer.epoch; did you mean trainer.epochs?"],
    "override of the wrong type": ["optimizer.args.lr: expected float like", "got 'high'"],
    "missing mnist file": [
        "train-images-idx3-ubyte.gz: not found",
        "set data_loader.args.download=true",
    ],
    "corrupt mnist file": [
        "train-images-idx3-ubyte.gz: corrupt or truncated gzip file",
        "delete it to download it again",
    ],
    "truncated mnist file": ["train-images-idx3-ubyte.gz: corrupt or truncated gzip file"],
    "mnist header mismatch": ["train-images-idx3-ubyte.gz: holds", "(truncated?)"],
    "not a checkpoint": ["weights.pth: not a checkpoint written by train.py (missing arch"],
    "text file as checkpoint": ["notes.pth: not a readable checkpoint"],
    "truncated checkpoint": ["cut.pth: not a readable checkpoint", "truncated or corrupt"],
    "pickled object checkpoint": ["obj.pth: refused, loading it would run code", "PosixPath"],
    "checkpoint of another arch": ["other.pth: its weights do not fit arch of the config (Missing"],
    "checkpoint weights do not fit": ["shapes.pth: its weights do not fit arch of the config"],
    "resume path missing": ["model_best.pth: checkpoint not found"],
    "init-from not a checkpoint": ["weights.pth: not a checkpoint written by train.py"],
    "init-from corrupt safetensors": ["weights.safetensors: not a readable checkpoint"],
    "init-from weights do not fit": ["shapes.pth: its weights do not fit", "init_strict=false"],
    "freeze matches no parameter": ["trainer.freeze: 'backbone' matches no parameter of"],
    "ema_decay out of range": ["trainer.ema_decay: must be a number in [0, 1), got 1.0"],
    "param group matches no parameter": [
        "optimizer.param_groups[0].prefix: 'backbone' matches no parameter of"
    ],
    "unknown torchvision model": [
        "arch.args.name: 'resnet81' is not in torchvision.models.list_models()",
        "the closest: resnet18",
    ],
    "unknown torchvision weights": [
        "arch.args.weights: 'IMAGENET' is no weights of resnet18",
        "choose from IMAGENET1K_V1, DEFAULT",
    ],
    "mean null without pretrained weights": [
        "data_loader.args.mean: null is a pretrained arch's own, and this arch has none"
    ],
    "negative warmup_steps": ["lr_scheduler.warmup_steps: must be an integer >= 0, got -1"],
    "plateau without a monitor": ["trainer.monitor: must be 'min METRIC' or 'max METRIC' for Red"],
    "nan loss": ["in epoch 2", "lower the learning rate"],
}
if FOLDER:  # the MNIST files' cases: tests/test_folder.py has those of image folders
    for case in list(CASES):
        if "mnist" in case:
            del CASES[case]
CREATES_A_RUN = {"monitor never logged", "nan loss"}  # fail while training, in a new run folder


@pytest.mark.parametrize("case", CASES)
def test_bad_input_fails_with_one_clear_line(case, existing_run, tmp_path, capsys):
    args = prepare(case, existing_run, tmp_path)
    saved = existing_run["root"] / "saved"
    runs_before, files_before = run_dirs(saved), snapshot(existing_run["run"])
    with pytest.raises(SystemExit) as exit_info:
        train.cli(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for part in CASES[case]:
        assert in_this_project(part) in lines[0]
    assert snapshot(existing_run["run"]) == files_before  # nothing of the earlier run changed
    new_runs = [r for r in run_dirs(saved) if r not in runs_before]
    assert len(new_runs) == (1 if case in CREATES_A_RUN else 0)
    if case == "nan loss":  # the epoch-1 model stays the best; epoch 2 was never saved
        (run,) = new_runs
        assert torch.load(run / "model_best.pth", weights_only=True)["epoch"] == 1
        assert not (run / "checkpoint-epoch2.pth").exists()
        for path in new_runs:
            shutil.rmtree(path)
    for path in new_runs:
        shutil.rmtree(path, ignore_errors=True)


def test_debug_shows_the_traceback(existing_run):
    with pytest.raises(Exception, match="trainer.epochs: must be an integer >= 1"):
        train.cli(["-c", str(existing_run["config"]), "trainer.epochs=0", "--debug"])


def test_test_py_refuses_a_bad_checkpoint_cleanly(existing_run, tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    bad.write_text("not a checkpoint")
    with pytest.raises(SystemExit) as exit_info:
        test_script.cli(["-r", str(bad)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}: not a readable checkpoint")
