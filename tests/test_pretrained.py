"""Pretrained models (model/pretrained.py) in a folder project of 3 photo classes: torchvision's
weights read from $TORCH_HOME as torchvision reads them, a state dict file, timm's checkpoint
file; the head and the first convolution in the data's shape; transfer-learning controls that
resume exactly. Nothing is downloaded: the tests write stand-in weights (a seeded random state
dict) under the file name torchvision looks for, and refuse every connection (https_proxy to a
closed port) so that a missing file fails at once."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tests import photos
from tests.conftest import python

RESNET18_FILE = "resnet18-f37072fd.pth"  # ResNet18_Weights.IMAGENET1K_V1's, in hub/checkpoints/
IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
FAST = ["trainer.epochs=1", "trainer.len_epoch=2", "data_loader.args.num_workers=0"]
FAST += ["data_loader.args.image_size=[32,32]", "data_loader.args.augment=[]"]
OWN_STATS = ["data_loader.args.mean=null", "data_loader.args.std=null"]
HEAD_FIRST = ['trainer.freeze=["backbone"]']


def arch(kind: str, **args) -> str:
    return "arch=" + json.dumps({"type": kind, "args": args})


@pytest.fixture(scope="module")
def project(copie_session) -> Path:
    answers = {"dataset": "folder", "n_gpu": 0}
    return copie_session.copy(extra_answers=answers).project_dir


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos") / "data"
    photos.classification_folder(root, 3, n_train=16, n_test=4)  # batches of 16, 16, 12
    return root


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory) -> Path:
    """A TORCH_HOME holding stand-in ImageNet weights of ResNet-18."""
    from torchvision.models import resnet18

    home = tmp_path_factory.mktemp("torch_home")
    (home / "hub" / "checkpoints").mkdir(parents=True)
    torch.manual_seed(7)
    torch.save(resnet18().state_dict(), home / "hub" / "checkpoints" / RESNET18_FILE)
    return home


def offline(home: Path) -> dict[str, str]:
    refused = "http://127.0.0.1:9"  # the discard port: connection refused, at once
    return {"TORCH_HOME": str(home), "https_proxy": refused, "HTTPS_PROXY": refused}


def train(project: Path, data: Path, save_dir: Path, *overrides: str, env=None, resume=None):
    """train.py on the photos: (the run folder, its last checkpoint)."""
    args = ["train.py", f"data_loader.args.data_dir={data}", f"trainer.save_dir={save_dir}"]
    args += ["-r", str(resume)] if resume else []
    done = python(*args, *FAST, *overrides, cwd=project, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = max((save_dir / "models").glob("*/*"), key=lambda p: p.stat().st_mtime_ns)
    last = max(run.glob("checkpoint-epoch*.pth"), key=lambda p: p.stat().st_mtime_ns)
    return run, torch.load(last, weights_only=True)


@pytest.mark.slow
def test_torchvision_weights_are_the_cached_file_with_a_head_for_the_data(
    project, data, torch_home, tmp_path
):
    stand_in = torch.load(torch_home / "hub" / "checkpoints" / RESNET18_FILE, weights_only=True)
    weights = arch("TorchvisionModel", name="resnet18", weights="IMAGENET1K_V1")
    run, state = train(
        project, data, tmp_path, weights, *OWN_STATS, *HEAD_FIRST, env=offline(torch_home)
    )
    model = state["state_dict"]
    assert torch.equal(model["backbone.layer4.1.conv2.weight"], stand_in["layer4.1.conv2.weight"])
    assert model["head.weight"].shape == (3, 512)  # the data's 3 classes
    # a frozen BatchNorm keeps its running statistics (eval mode while frozen)
    assert torch.equal(model["backbone.bn1.running_mean"], stand_in["bn1.running_mean"])
    assert torch.equal(
        model["backbone.layer1.0.bn1.running_var"], stand_in["layer1.0.bn1.running_var"]
    )
    config = json.loads((run / "config.json").read_text())["data_loader"]["args"]
    assert {k: config[k] for k in IMAGENET} == IMAGENET  # the weights' own, said in one place


SCRIPTS = """import json, sys
import export, predict, test
for script, argv in json.loads(sys.argv[1]):
    sys.modules[script].cli(argv)
"""  # the project's scripts in one process: one start of torch, not five


def scripts_agree(project: Path, data: Path, run: Path, tmp_path: Path) -> None:
    """test.py, export.py (ONNX, pt2) and predict.py on the run's checkpoint, without the weights
    file: test metrics for the data's classes, exported programs within 1e-4 of the checkpoint,
    predictions of the checkpoint and of the pt2 program alike."""
    checkpoint, images = str(run / "checkpoint-epoch1.pth"), str(data / "test" / "chelsea")
    common = [f"data_loader.args.data_dir={data}", "data_loader.args.num_workers=0"]
    steps = [("test", ["-r", checkpoint, *common])]
    for fmt in ("pt2", "onnx"):
        out = ["--format", fmt, "-o", str(tmp_path / f"model.{fmt}")]
        steps.append(("export", ["-r", checkpoint, *out, *common]))
    for source in (checkpoint, str(tmp_path / "model.pt2")):
        out = str(tmp_path / Path(source).suffix[1:])
        steps.append(("predict", ["-r", source, images, "-o", out]))
    done = python("-c", SCRIPTS, json.dumps(steps), cwd=project, env=offline(tmp_path / "none"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    metrics = json.loads((run / "test_metrics.json").read_text())
    assert metrics["class_names"] == ["astronaut", "chelsea", "coffee"]
    assert sum(row["support"] for row in metrics["per_class"].values()) == 12
    differences = [line for line in done.stdout.splitlines() if "largest absolute" in line]
    assert len(differences) == 2 and all(float(d.split()[-1]) <= 1e-4 for d in differences)
    rows = [
        [row.split(",") for row in (tmp_path / kind / "predictions.csv").read_text().split()]
        for kind in ("pth", "pt2")
    ]
    assert len(rows[0]) == len(list(Path(images).iterdir())) + 1 and rows[0][0] == rows[1][0]
    for own, program in zip(rows[0][1:], rows[1][1:], strict=True):
        assert own[:2] == program[:2]  # the file and its label
        assert float(own[2]) == pytest.approx(float(program[2]), abs=1e-4)


def tunes(project: Path, data: Path, save_dir: Path, weights: str, env: dict[str, str]) -> None:
    """tune.py: 2 trials, each training the model; the best trial's config names that model."""
    args = ["tune.py", "--trials", "2", f"data_loader.args.data_dir={data}"]
    args += [f"trainer.save_dir={save_dir}", *FAST, weights, *OWN_STATS]
    done = python(*args, cwd=project, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (study,) = (save_dir / "tune").iterdir()
    rows = (study / "trials.csv").read_text().splitlines()[1:]
    assert len(rows) == 2 and all(",COMPLETE," in row for row in rows), rows
    best = json.loads((study / "best_config.json").read_text())
    assert best["arch"] == json.loads(weights.removeprefix("arch="))


@pytest.mark.slow
def test_test_export_predict_and_tune_with_a_torchvision_model(project, data, tmp_path):
    """MobileNetV3-Small from stand-in IMAGENET1K_V1 weights in a temporary TORCH_HOME."""
    from torchvision.models import MobileNet_V3_Small_Weights, mobilenet_v3_small

    home = tmp_path / "torch_home"
    (home / "hub" / "checkpoints").mkdir(parents=True)
    torch.manual_seed(11)
    file = Path(MobileNet_V3_Small_Weights.IMAGENET1K_V1.url).name
    torch.save(mobilenet_v3_small().state_dict(), home / "hub" / "checkpoints" / file)
    weights = arch("TorchvisionModel", name="mobilenet_v3_small", weights="IMAGENET1K_V1")
    run, _ = train(project, data, tmp_path / "saved", weights, *OWN_STATS, env=offline(home))
    scripts_agree(project, data, run, tmp_path)
    tunes(project, data, tmp_path / "tuned", weights, offline(home))


@pytest.mark.slow
def test_test_export_predict_and_tune_with_a_timm_model(project, data, tmp_path):
    """timm's test_resnet from a stand-in checkpoint file."""
    import timm

    torch.manual_seed(13)
    path = tmp_path / "test_resnet.pth"
    torch.save(timm.create_model("test_resnet").state_dict(), path)
    weights = arch("TimmModel", name="test_resnet.r160_in1k", checkpoint=str(path))
    run, _ = train(project, data, tmp_path / "saved", weights, *OWN_STATS, env=offline(tmp_path))
    scripts_agree(project, data, run, tmp_path)
    tunes(project, data, tmp_path / "tuned", weights, offline(tmp_path))


@pytest.mark.slow
def test_weights_from_a_file_and_one_channel_made_from_the_rgb_filters(project, data, tmp_path):
    from torchvision.models import resnet18

    torch.manual_seed(3)
    stand_in = resnet18().state_dict()
    path = tmp_path / "resnet18.safetensors"
    save_file(stand_in, path)
    gray = [
        "data_loader.args.channels=1",
        "data_loader.args.mean=[0.5]",
        "data_loader.args.std=[0.25]",
    ]
    weights = arch("TorchvisionModel", name="resnet18", weights=str(path))
    _, state = train(project, data, tmp_path / "saved", weights, *gray, *HEAD_FIRST)
    first = state["state_dict"]["backbone.conv1.weight"]
    assert first.shape == (64, 1, 7, 7)
    assert torch.equal(first, stand_in["conv1.weight"].sum(1, keepdim=True))  # as timm does


def test_weights_neither_cached_nor_downloadable_are_one_error_that_writes_nothing(
    project, data, tmp_path
):
    home, save_dir = tmp_path / "torch_home", tmp_path / "saved"
    weights = arch("TorchvisionModel", name="resnet18", weights="IMAGENET1K_V1")
    done = python(
        "train.py",
        weights,
        *OWN_STATS,
        f"data_loader.args.data_dir={data}",
        f"trainer.save_dir={save_dir}",
        cwd=project,
        env=offline(home),
    )
    assert done.returncode == 2, done.stderr[-3000:]
    error = done.stderr.splitlines()[-1]
    file = home / "hub" / "checkpoints" / RESNET18_FILE
    assert error.startswith(
        f"error: arch.args.weights: resnet18's IMAGENET1K_V1 weights are not in {file} and "
        "could not be downloaded ("
    )
    assert error.endswith(
        f"download https://download.pytorch.org/models/{RESNET18_FILE} elsewhere into "
        f"{file.parent}/, or give the path of a .pth or .safetensors state dict as "
        "arch.args.weights"
    )
    assert not save_dir.exists()


def test_unknown_names_get_the_closest_ones(project, tmp_path):
    done = python("train.py", arch("TorchvisionModel", name="resnet81"), cwd=project)
    assert done.returncode == 2
    assert done.stderr == (
        "error: arch.args.name: 'resnet81' is not in torchvision.models.list_models(); the "
        "closest: resnet18, resnet152, resnet101\n"
    )
    done = python(
        "train.py", arch("TorchvisionModel", name="resnet18", weights="IMAGENET"), cwd=project
    )
    assert done.stderr == (
        "error: arch.args.weights: 'IMAGENET' is no weights of resnet18; choose from "
        "IMAGENET1K_V1, DEFAULT, null, or the path of a .pth or .safetensors state dict\n"
    )


@pytest.mark.slow
def test_head_first_then_everything_resumes_exactly(project, data, torch_home, tmp_path):
    controls = [*HEAD_FIRST, "trainer.unfreeze_at_epoch=2", "trainer.epochs=2"]
    controls += ['optimizer.param_groups=[{"prefix": "backbone", "lr_scale": 0.1}]']
    weights = arch("TorchvisionModel", name="resnet18", weights="IMAGENET1K_V1")
    common = [weights, *OWN_STATS, *controls]
    env = offline(torch_home)
    whole, end = train(project, data, tmp_path / "whole", *common, env=env)
    first = torch.load(whole / "checkpoint-epoch1.pth", weights_only=True)
    _, resumed = train(
        project, data, tmp_path / "whole", *common, env=env, resume=whole / "checkpoint-epoch1.pth"
    )
    assert end["epoch"] == resumed["epoch"] == 2
    for key, value in end["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    # epoch 1 trained the head only, epoch 2 everything (the backbone at a tenth of the rate)
    stand_in = torch.load(torch_home / "hub" / "checkpoints" / RESNET18_FILE, weights_only=True)
    key = "layer1.0.conv1.weight"
    assert torch.equal(first["state_dict"][f"backbone.{key}"], stand_in[key])
    assert not torch.equal(end["state_dict"][f"backbone.{key}"], stand_in[key])
    assert not torch.equal(
        end["state_dict"]["backbone.bn1.running_mean"], stand_in["bn1.running_mean"]
    )
    groups = end["optimizer"]["param_groups"]
    assert [g.get("prefix") for g in groups] == ["backbone", None]
    assert [g["lr_scale"] for g in groups] == [0.1, 1.0]


@pytest.mark.slow
def test_timm_model_from_a_checkpoint_file(project, data, tmp_path):
    import timm

    torch.manual_seed(5)
    stand_in = timm.create_model("resnet18").state_dict()
    path = tmp_path / "resnet18_timm.pth"
    torch.save(stand_in, path)
    weights = arch("TimmModel", name="resnet18.a1_in1k", checkpoint=str(path))
    run, state = train(
        project, data, tmp_path / "saved", weights, *OWN_STATS, *HEAD_FIRST, env=offline(tmp_path)
    )
    model = state["state_dict"]
    assert torch.equal(model["backbone.layer3.0.conv1.weight"], stand_in["layer3.0.conv1.weight"])
    assert model["head.weight"].shape == (3, 512)
    config = json.loads((run / "config.json").read_text())["data_loader"]["args"]
    assert {k: config[k] for k in IMAGENET} == IMAGENET  # timm's pretrained_cfg


@pytest.mark.slow
def test_segmentation_and_regression_projects_get_their_own_heads(copie_session, tmp_path):
    answers = {"dataset": "folder", "n_gpu": 0}
    rgb = ["data_loader.args.channels=3", "data_loader.args.mean=[0.5,0.5,0.5]"]
    rgb += ["data_loader.args.std=[0.25,0.25,0.25]", "data_loader.args.batch_size=4"]
    segmentation = copie_session.copy(extra_answers={**answers, "task": "segmentation"})
    names = photos.segmentation_folder(tmp_path / "seg", 4, n_train=12, n_test=2)
    deeplab = arch("TorchvisionModel", name="deeplabv3_mobilenet_v3_large", weights=None)
    shape = [f"data_loader.args.class_names={json.dumps(names)}", *rgb, deeplab]
    _, state = train(segmentation.project_dir, tmp_path / "seg", tmp_path / "s1", *shape)
    assert state["state_dict"]["head.4.weight"].shape[:2] == (4, 256)  # one map per class
    regression = copie_session.copy(extra_answers={**answers, "task": "regression"})
    photos.regression_folder(tmp_path / "reg", n_train=12, n_test=4)
    targets = 'data_loader.args.targets=["brightness", "position"]'
    resnet = arch("TorchvisionModel", name="resnet18", weights=None)
    _, state = train(
        regression.project_dir, tmp_path / "reg", tmp_path / "s2", targets, *rgb, resnet
    )
    assert state["state_dict"]["head.weight"].shape == (2, 512)  # one output per target
