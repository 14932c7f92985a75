"""Rendering the template: files, answers and lint for every combination of answers; validators."""

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests import markdown
from tests.conftest import DEFAULT_METRICS, METRICS, MONITORS, REPO, TASKS, python, shared_group

DEFAULT_FILES = {
    ".copier-answers.yml",
    ".github/workflows/ci.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    "README.md",
    "pyproject.toml",
    "config.json",
    "train.py",
    "test.py",
    "tune.py",
    "predict.py",
    "export.py",
    "model/predictions.py",
    "parse_config.py",
    "base/__init__.py",
    "base/base_data_loader.py",
    "base/base_model.py",
    "data_loader/__init__.py",
    "data_loader/data_loaders.py",
    "data_loader/images.py",
    "data_loader/mnist.py",
    "logger/__init__.py",
    "logger/logger.py",
    "logger/logger_config.json",
    "logger/visualization.py",
    "logger/writer.py",
    "model/__init__.py",
    "model/blocks.py",
    "model/digits.py",
    "model/figures.py",
    "model/loss.py",
    "model/metric.py",
    "model/model.py",
    "model/pretrained.py",
    "trainer/__init__.py",
    "trainer/trainer.py",
    "utils/__init__.py",
    "utils/checkpoint.py",
    "utils/distributed.py",
    "utils/metric_tracker.py",
    "utils/validation.py",
    "utils/config.schema.json",
    "utils/util.py",
    "tests/__init__.py",
    "tests/test_bad_input.py",
    "tests/conftest.py",
    "tests/test_classification.py",
    "tests/test_imbalance.py",
    "tests/test_config.py",
    "tests/test_controls.py",
    "tests/test_data_loader.py",
    "tests/test_imports.py",
    "tests/logger_fixtures.py",
    "tests/test_mnist_classification.py",
    "tests/test_mnist_files.py",
    "tests/test_resume.py",
    "tests/test_steps.py",
    "tests/test_tensorboard.py",
    "tests/test_training.py",
}


# what each task's model.py and loss.py offer to config.json (their __all__)
DEFAULT_MODELS = {"classification": "MnistNet", "segmentation": "UNet", "regression": "AngleNet"}
MODELS = {  # then the pretrained ones of model/pretrained.py
    "classification": ["MnistNet", "PhotoNet", "TimmModel", "TorchvisionModel"],
    "segmentation": ["UNet", "TorchvisionModel"],
    "regression": ["AngleNet", "TimmModel", "TorchvisionModel"],
}
LOSSES = {
    "classification": ["nll_loss", "cross_entropy"],
    "segmentation": ["cross_entropy", "dice_loss", "cross_entropy_dice"],
    "regression": ["mse_loss", "smooth_l1_loss"],
}


def choices(files: dict[str, str], module: str) -> list[str]:
    """The ``__all__`` of a rendered module: the names config.json may give."""
    (names,) = [
        ast.literal_eval(node.value)
        for node in ast.parse(files[module]).body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__"
    ]
    return names


def project_files(project: Path) -> dict[str, str]:
    return {
        str(p.relative_to(project)): p.read_text()
        for p in project.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }


def test_defaults(copie):
    result = copie.copy()
    assert result.exit_code == 0, result.exception
    project = result.project_dir
    assert set(project_files(project)) == DEFAULT_FILES
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert {k: v for k, v in answers.items() if not k.startswith("_")} == {
        "project_name": "mnist-trainer",
        "description": "PyTorch training project generated from the pytorch-template successor",
        "author_name": "Your Name",
        "task": "classification",
        "n_gpu": 1,
        "logger": "tensorboard",
        "metrics": ["accuracy", "top_k_acc"],
        "dataset": "mnist",
    }
    config = json.loads((project / "config.json").read_text())
    assert config["n_gpu"] == 1 and config["metrics"] == ["accuracy", "top_k_acc"]
    assert config["trainer"]["monitor"] == "max val_accuracy"
    assert "tensorboard" not in config["trainer"]  # the logger is chosen by the logger question
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "mnist-trainer"
    assert any(dep.startswith("tensorboard") for dep in pyproject["project"]["dependencies"])
    assert (project / "README.md").read_text().count("tensorboard --logdir") == 1  # said once


# the files of a task beyond the defaults' (MNIST; folder: the image-folder code instead)
TASK_FILES = {
    "classification": {
        "tests/test_classification.py",
        "tests/test_imbalance.py",
        "model/digits.py",
    },
    "segmentation": {"tests/test_segmentation.py", "data_loader/canvas.py"},
    "regression": {"tests/test_regression.py", "data_loader/rotated.py"},
}
FOLDER_FILES = {
    "data_loader/folder.py",
    "data_loader/__main__.py",
    "data_loader/example.py",
    "tests/test_folder.py",
}


@pytest.mark.parametrize("dataset", ["mnist", "folder"])
@pytest.mark.parametrize("task", TASKS)
def test_each_task_renders_only_its_own_files_and_default_metrics(copie, task, dataset):
    result = copie.copy(extra_answers={"task": task, "dataset": dataset})
    assert result.exit_code == 0, result.exception
    files = project_files(result.project_dir)
    mnist_tests = {f"tests/test_mnist_{task}.py"} if dataset == "mnist" else FOLDER_FILES
    photos = (task, dataset) == ("classification", "folder")  # the default model for photos
    expected = DEFAULT_FILES - TASK_FILES["classification"] - {"tests/test_mnist_classification.py"}
    assert set(files) == expected | TASK_FILES[task] | mnist_tests
    answers = yaml.safe_load(files[".copier-answers.yml"])
    assert answers["task"] == task and answers["metrics"] == DEFAULT_METRICS[task]
    config = json.loads(files["config.json"])
    assert config["metrics"] == DEFAULT_METRICS[task]
    assert config["trainer"]["monitor"] == MONITORS[task]
    assert config["trainer"]["figure_period"] == 5
    others = [name for other in TASKS if other != task for name in METRICS[other]]
    defined = {n.name for n in ast.parse(files["model/metric.py"]).body if hasattr(n, "name")}
    assert not defined & set(others)
    assert choices(files, "model/metric.py") == list(METRICS[task])
    models = [m for m in MODELS[task] if m != "PhotoNet" or photos]  # PhotoNet: folder projects
    assert choices(files, "model/model.py") == models
    assert choices(files, "data_loader/data_loaders.py") == [config["data_loader"]["type"]]
    assert config["arch"] == {"type": "PhotoNet" if photos else DEFAULT_MODELS[task], "args": {}}
    if dataset == "folder":  # runs are named after the project, not MNIST
        assert config["name"] == "mnist-trainer"
    assert config["loss"]["type"] in choices(files, "model/loss.py") == LOSSES[task]
    readme = files["README.md"]
    assert f"saved/models/{config['name']}/RUN_ID/model_best.pth" in readme
    assert f'| `arch.type` | `"{config["arch"]["type"]}"`' in readme
    assert f'| `trainer.monitor` | `"{MONITORS[task]}"`' in readme


def test_names_with_quotes_render_valid_toml(copie):
    result = copie.copy(
        extra_answers={
            "project_name": "My Net",
            "author_name": 'Ann "A" Lee',
            "description": 'Says "hi" \\ bye',
        }
    )
    assert result.exit_code == 0, result.exception
    pyproject = tomllib.loads((result.project_dir / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "my-net"
    assert pyproject["project"]["authors"] == [{"name": 'Ann "A" Lee'}]
    assert pyproject["project"]["description"] == 'Says "hi" \\ bye'


@shared_group["variants"]
def test_every_variant_has_its_answers_and_only_its_options(rendered_variants):
    for answers, project in rendered_variants:
        files = project_files(project)
        stored = yaml.safe_load(files[".copier-answers.yml"])
        assert {k: stored[k] for k in answers} == answers
        config = json.loads(files["config.json"])
        assert config["n_gpu"] == answers["n_gpu"]
        assert config["metrics"] == answers["metrics"]
        monitor = MONITORS[answers["task"]]
        if monitor.split("_", 1)[1] not in answers["metrics"]:
            monitor = "min val_loss"
        assert config["trainer"]["monitor"] == monitor
        body = ast.parse(files["model/metric.py"]).body
        names = [node.name for node in body if isinstance(node, ast.FunctionDef)]
        names += [ast.unparse(node.targets[0]) for node in body if isinstance(node, ast.Assign)]
        # per_class: test.py's; private helpers, constants and __all__ are no metrics
        defined = {n for n in names if n != "per_class" and n.islower() and n[0] != "_"}
        assert defined == set(choices(files, "model/metric.py")) == set(METRICS[answers["task"]])
        uses_tensorboard = any("tensorboard" in text.lower() for text in files.values())
        assert uses_tensorboard == (answers["logger"] == "tensorboard"), answers
        assert ("tests/test_tensorboard.py" in files) == (answers["logger"] == "tensorboard")
        assert_only_its_logger(answers["logger"], files, config)


# what only the project of each logger may mention: its name, test file, config keys, dependency
LOGGER_MARKS = {
    "tensorboard": ("tensorboard", "tests/test_tensorboard.py", None, "tensorboard"),
    "csv": ("metrics.csv", "tests/test_csv.py", None, None),
    "wandb": ("wandb", "tests/test_wandb.py", "wandb", "wandb"),
    "mlflow": ("mlflow", "tests/test_mlflow.py", "mlflow", "mlflow-skinny"),
}


def assert_only_its_logger(logger: str, files: dict[str, str], config: dict) -> None:
    dependencies = tomllib.loads(files["pyproject.toml"])["project"]["dependencies"]
    for name, (word, test_file, key, dependency) in LOGGER_MARKS.items():
        chosen = name == logger
        mentioned = [path for path, text in files.items() if word in text.lower()]
        assert bool(mentioned) == chosen, f"{logger} project, {word!r} in {mentioned}"
        assert (test_file in files) == chosen, f"{logger} project, {test_file}"
        if key is not None:
            assert (key in config or key in config["trainer"]) == chosen, f"{logger}: {key}"
        if dependency is not None:
            has = any(d.startswith(dependency) for d in dependencies)
            assert has == chosen, f"{logger} project, dependency {dependency}"


@shared_group["variants"]
def test_every_variant_is_ruff_clean(rendered_variants, copie_session):
    folder = copie_session.test_dir
    check = python("-m", "ruff", "check", "--no-cache", str(folder), cwd=folder)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = python("-m", "ruff", "format", "--check", "--no-cache", str(folder), cwd=folder)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_template_sources_and_tests_are_ruff_clean():
    """template/ holds plain Python files: ruff reads them as they are, with the root config."""
    paths = ["template", "tests", "benchmarks", "hooks"]
    check = python("-m", "ruff", "check", "--no-cache", *paths, cwd=REPO)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = python("-m", "ruff", "format", "--check", "--no-cache", *paths, cwd=REPO)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    jinja_python = [
        p
        for p in (REPO / "template").rglob("*.py*")
        if "{%" in p.name or p.suffix == ".jinja" and p.stem.endswith(".py")
    ]
    assert not jinja_python, f"Python sources with Jinja in their name or body: {jinja_python}"


@shared_group["variants"]
def test_every_variant_compiles(rendered_variants, copie_session, tmp_path):
    folder = copie_session.test_dir
    cache = f"pycache_prefix={tmp_path}"  # keeps .pyc files out of the rendered projects
    compiled = python("-X", cache, "-m", "compileall", "-q", str(folder), cwd=folder)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


@shared_group["variants"]
def test_no_jinja_leftovers_trailing_spaces_or_blank_runs(rendered_variants):
    for answers, project in rendered_variants:
        for name, text in project_files(project).items():
            where = f"{name} of {answers}"
            jinja = re.sub(r"\$\{\{.*?\}\}", "", text)  # GitHub's ${{ }} stays raw
            assert "{{" not in jinja and "{%" not in jinja, where
            assert not re.search(r"[ \t]+$", text, re.M), f"trailing whitespace in {where}"
            assert "\n\n\n\n" not in text, f"run of blank lines in {where}"
            if text:
                assert text.endswith("\n") and not text.endswith("\n\n"), f"file end of {where}"
            if name.endswith(".json"):
                json.loads(text)
            if name.endswith(".toml"):
                tomllib.loads(text)
            if name.endswith((".yml", ".yaml")):
                yaml.safe_load(text)


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_name": ""}, "project_name '' is not valid"),
        ({"project_name": "9lives"}, "starting with a letter"),
        ({"project_name": "my/net"}, "project_name 'my/net' is not valid"),
        ({"project_name": "   "}, "project_name '   ' is not valid"),
        ({"project_name": "net-"}, "ending with a letter or digit"),
        ({"project_name": "n" * 65}, "use 1-64 letters"),
        ({"n_gpu": -1}, "n_gpu must be 0 (CPU) or a positive number of GPUs, got -1"),
        ({"metrics": []}, "choose at least one metric"),
        (
            {"metrics": ["dice"]},
            "'dice' is not in ['accuracy', 'top_k_acc', 'precision', 'recall', 'f1']",
        ),
        (
            {"task": "segmentation", "metrics": ["mean_iou", "accuracy"]},
            "'accuracy' is not in ['pixel_accuracy', 'mean_iou', 'dice']",
        ),
        (
            {"task": "regression", "metrics": ["mean_iou"]},
            "'mean_iou' is not in ['mae', 'rmse', 'r2']",
        ),
        ({"task": "regression", "metrics": []}, "choose at least one metric"),
        ({"logger": "comet"}, "'comet' is not in"),
        ({"task": "detection"}, "'detection' is not in"),
    ],
)
def test_validators_reject_bad_answers(copie, answers, message):
    result = copie.copy(extra_answers=answers)
    assert result.exit_code != 0
    assert message in str(result.exception)


@pytest.mark.parametrize(
    ("name", "slug"), [("a", "a"), ("My Net_2", "my-net-2"), ("N" * 64, "n" * 64)]
)
def test_names_at_the_limits_are_accepted(copie, name, slug):
    result = copie.copy(extra_answers={"project_name": name})
    assert result.exit_code == 0, result.exception
    pyproject = tomllib.loads((result.project_dir / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == slug


def test_the_message_after_copy_gives_the_readme_quick_start(tmp_path):
    """What to do next, printed by `copier copy`: cd into the project, then the commands of its
    README's quick start (the checkpoint path with NAME for the run name)."""
    done = python(
        "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref", "HEAD", str(REPO),
        "my_project", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    message = done.stderr[done.stderr.index("Generated mnist-trainer. Next steps") :]
    shown = [line.split("  #")[0].strip() for line in message.splitlines()[1:] if line.strip()]
    readme = (tmp_path / "my_project" / "README.md").read_text()
    (block,) = markdown.blocks(markdown.section(readme, "Quick start"), "bash")
    name = json.loads((tmp_path / "my_project" / "config.json").read_text())["name"]
    commands = [line.split("  #")[0].strip() for line in block.code.splitlines()]
    assert shown == ["cd my_project", *(c.replace(f"/{name}/", "/NAME/") for c in commands)]
