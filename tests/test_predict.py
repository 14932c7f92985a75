"""predict.py and export.py on the trained default project of each task, with real MNIST test images
written as PNG files: predictions equal the model's outputs at test time, every export format
matches PyTorch, predictions from .onnx and .pt2 equal the checkpoint's, bad input is one line."""

import csv
import shutil
from pathlib import Path

import pytest
import torch
from torchvision.io import read_image

from tests.conftest import MNIST_FILES, TASKS, python, shared_group

# torchvision 0.29 deprecates its image codecs (for TorchCodec); the project still uses them
pytestmark = [
    pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning"),
    pytest.mark.slow,  # the checkpoints are the quality runs of tests/test_mnist_training.py
    shared_group["mnist-trained"],
]
N_IMAGES = 300  # batches of the config's 256 or 128, the last one partial
FORMATS = ("safetensors", "pt2", "onnx")
# run inside the generated project: the first N_IMAGES test inputs as PNG files, and the outputs
# of the checkpoint's model on them, computed as test.py does (test split normalisation, eval
# mode) in batches of the config's batch size, the batches predict.py makes
REFERENCE = """
import sys, torch
from pathlib import Path
from torchvision.io import write_png
from data_loader.images import eval_transform
from parse_config import ConfigParser
from utils.checkpoint import load_checkpoint, load_model
checkpoint, data_dir, out = sys.argv[1:]
config = ConfigParser(load_checkpoint(checkpoint)["config"], Path(checkpoint))
loader = config.init_obj("data_loader", shuffle=False, validation_split=0, training=False,
                         data_dir=data_dir)
inputs = loader.dataset.__getitems__(torch.arange(N_IMAGES))[0]  # before the batch transform
if inputs.is_floating_point():  # rotated digits: 0..1, rounded as a PNG file rounds them
    inputs = inputs.mul(255).round().clamp(0, 255).to(torch.uint8)
Path(out, "images").mkdir(parents=True)
for i, image in enumerate(inputs):
    write_png(image, f"{out}/images/{i:04d}.png")
model, transform = load_model(config), eval_transform(config["data_loader"]["args"])
with torch.inference_mode():
    batches = inputs.split(config["data_loader"]["args"]["batch_size"])
    torch.save(torch.cat([model(transform(batch)) for batch in batches]), f"{out}/reference.pt")
""".replace("N_IMAGES", str(N_IMAGES))


@pytest.fixture(scope="module")
def mnist(tmp_path_factory, mnist_data) -> Path:
    """A copy of the real MNIST test and train files (the shared folder stays read-only)."""
    raw = tmp_path_factory.mktemp("mnist") / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        shutil.copy(mnist_data / "MNIST" / "raw" / name, raw / name)
    return raw.parents[1]


@pytest.fixture(scope="module")
def trained(mnist_trained, tmp_path_factory, mnist) -> dict[str, dict]:
    """Per task: the project, its checkpoint trained on MNIST (shared with the quality test), PNGs
    and reference outputs."""
    runs = {}
    for task in TASKS:
        project, run = mnist_trained(task).project, mnist_trained(task).run
        work, checkpoint = tmp_path_factory.mktemp(task), run / "model_best.pth"
        done = python("-c", REFERENCE, str(checkpoint), str(mnist), str(work), cwd=project)
        assert done.returncode == 0, done.stderr[-3000:]
        reference = torch.load(work / "reference.pt")
        runs[task] = dict(project=project, checkpoint=checkpoint, work=work, reference=reference)
    return runs


def predict(run: dict, model: Path, out: Path, *args: str) -> dict:
    """predict.py on the run's PNGs; what it wrote: CSV rows by file, or masks by name."""
    done = python(
        "predict.py",
        "-r",
        str(model),
        str(run["work"] / "images"),
        "-o",
        str(out),
        *args,
        cwd=run["project"],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    if (out / "masks").is_dir():
        return {path.name: read_image(str(path)) for path in (out / "masks").glob("*.png")}
    with open(out / "predictions.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    return {"header": rows[0], **{row[0]: row[1:] for row in rows[1:]}}


def as_outputs(task: str, written: dict) -> torch.Tensor:
    """Labels, masks or values, in file order, from what predict.py wrote."""
    names = [f"{i:04d}.png" for i in range(N_IMAGES)]
    if task == "segmentation":
        return torch.stack([written[name][0].long() for name in names])
    if task == "classification":
        return torch.tensor([int(written[name][0]) for name in names])
    return torch.tensor([float(written[name][0]) for name in names], dtype=torch.float64)


def expected(task: str, reference: torch.Tensor) -> torch.Tensor:
    if task == "regression":
        return reference.double()
    return reference.argmax(1)


@pytest.mark.parametrize("task", TASKS)
def test_predictions_equal_the_model_at_test_time(trained, task, tmp_path):
    run = trained[task]
    written = predict(run, run["checkpoint"], tmp_path / "out")
    assert torch.equal(as_outputs(task, written), expected(task, run["reference"]))
    if task == "classification":
        header = ["file", "label", "probability"]
        header += [f"{c}_{k}" for k in range(2, 6) for c in ("label", "probability")]
        assert written["header"] == header
        probabilities = run["reference"].softmax(1)
        top = torch.tensor([float(written[f"{i:04d}.png"][1]) for i in range(N_IMAGES)])
        assert torch.allclose(top, probabilities.max(1).values, atol=1e-6, rtol=0)
        second = [written[f"{i:04d}.png"][2] for i in range(N_IMAGES)]
        assert second == [str(c) for c in probabilities.topk(2).indices[:, 1].tolist()]
    elif task == "regression":
        assert written["header"] == ["file", "angle"]
    else:
        overlay = read_image(str(tmp_path / "out" / "overlays" / "0000.png"))
        mask, image = (
            written["0000.png"][0],
            read_image(str(run["work"] / "images" / "0000.png"))[0],
        )
        assert overlay.shape == (3, *mask.shape)
        assert torch.equal(overlay[:, mask == 0], image[mask == 0].expand(3, -1))  # background kept
        assert (overlay[:, mask > 0] != image[mask > 0]).any(0).all()  # classes coloured
    assert not list((tmp_path / "out").glob(".partial-*"))


@pytest.mark.parametrize("task", TASKS)
def test_exports_match_pytorch_and_predict_like_the_checkpoint(trained, task, tmp_path):
    run = trained[task]
    want = expected(task, run["reference"])
    for fmt in FORMATS:
        path = tmp_path / f"model.{fmt}"
        done = python(
            "export.py",
            "-r",
            str(run["checkpoint"]),
            "--format",
            fmt,
            "-o",
            str(path),
            cwd=run["project"],
        )
        assert done.returncode == 0, done.stderr[-3000:]
        (line,) = [line for line in done.stdout.splitlines() if "largest absolute" in line]
        assert line.startswith(f"{path}: largest absolute difference to PyTorch on 256 inputs")
        assert float(line.split()[-1]) <= 1e-4
        if fmt == "safetensors":
            assert path.read_bytes()[8:9] == b"{"  # JSON header: no pickle
            continue
        got = as_outputs(task, predict(run, path, tmp_path / fmt))
        if task == "regression":
            assert torch.allclose(got, want, atol=1e-4, rtol=0)
        else:
            assert torch.equal(got, want)


def fails(run: dict, *args: str, env: dict | None = None) -> str:
    """The one-line error of a script that must refuse its input (exit code 2)."""
    done = python(*args, cwd=run["project"], env=env)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def test_bad_inputs_are_one_line_errors_that_write_nothing(trained, tmp_path):
    run, out = trained["classification"], tmp_path / "out"
    checkpoint = str(run["checkpoint"])
    error = fails(
        run, "predict.py", "-r", checkpoint, str(tmp_path / "none" / "*.png"), "-o", str(out)
    )
    assert "no image matched" in error and not out.exists()

    error = fails(
        run,
        "predict.py",
        "-r",
        str(trained["segmentation"]["checkpoint"]),
        str(run["work"] / "images"),
        "-o",
        str(out),
    )
    assert "a segmentation model; this project is for classification" in error
    assert not out.exists()

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    error = fails(
        run,
        "predict.py",
        "-r",
        checkpoint,
        str(run["work"] / "images" / "0000.png"),
        "-o",
        str(blocker / "out"),
    )
    assert f"{blocker / 'out'}: cannot write there" in error

    for workers in ("-1", str(2**63)):  # -1: DataLoader's ValueError; 2**63: spawned without end
        args = ["-r", checkpoint, str(run["work"] / "images"), "-o", str(out), "--workers", workers]
        done = python("predict.py", *args, cwd=run["project"])  # argparse's usage, then the error
        last = done.stderr.strip().splitlines()[-1]
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert last.endswith(f"error: argument --workers: invalid count value: '{workers}'")
        assert not out.exists()

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for i in range(3):
        shutil.copy(run["work"] / "images" / f"000{i}.png", inputs / f"{i}.png")
    (inputs / "3.png").write_bytes((inputs / "0.png").read_bytes()[:60])  # truncated
    (inputs / "4.png").write_text("not an image")
    error = fails(run, "predict.py", "-r", checkpoint, str(inputs), "-o", str(out))
    assert f"{inputs / '3.png'}: not a readable image" in error and "--skip-bad-files" in error
    assert list(out.rglob("*")) == []  # the staging folder is gone, nothing was published
    done = python(
        "predict.py",
        "-r",
        checkpoint,
        str(inputs),
        "-o",
        str(out),
        "--skip-bad-files",
        cwd=run["project"],
    )
    assert done.returncode == 0, done.stderr
    assert "Predicted 3 of 5 files" in done.stdout and done.stdout.count("skipped ") == 2
    rows = (out / "predictions.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["0.png", "1.png", "2.png"]


def test_onnx_export_without_its_packages_names_the_install_command(trained, tmp_path):
    run = trained["classification"]
    for name in ("onnx", "onnxscript"):  # stand-ins that fail to import, first on the path
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('not installed')\n")
    error = fails(
        run,
        "export.py",
        "-r",
        str(run["checkpoint"]),
        "--format",
        "onnx",
        "-o",
        str(tmp_path / "m.onnx"),
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert error == 'error: ONNX export and inference need onnx: pip install -e ".[export]"\n'
    assert not (tmp_path / "m.onnx").exists()


def test_exported_programs_run_without_the_model_code(trained, tmp_path):
    """With the model's class renamed, the checkpoint no longer loads, the .pt2 file still runs."""
    run = trained["classification"]
    project = tmp_path / "project"
    shutil.copytree(run["project"], project)
    done = python(
        "export.py",
        "-r",
        str(run["checkpoint"]),
        "--format",
        "pt2",
        "-o",
        str(tmp_path / "m.pt2"),
        cwd=project,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for source in (project / "model").glob("*.py"):  # model.py offers digits.py's MnistNet
        source.write_text(source.read_text().replace("MnistNet", "RenamedNet"))
    moved = dict(run, project=project)
    assert "unknown 'MnistNet'" in fails(moved, "predict.py", "-r", str(run["checkpoint"]), "x.png")
    got = as_outputs("classification", predict(moved, tmp_path / "m.pt2", tmp_path / "out"))
    assert torch.equal(got, expected("classification", run["reference"]))
