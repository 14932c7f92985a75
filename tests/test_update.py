"""`copier update` moves an edited project to a newer template version without losing its edits.

The test builds its own template repository from the working tree, with two tagged versions
(it must not depend on the tags of a CI clone): v0.1.0 is the current template without its CI
workflow and with `trainer.tensorboard`, as 0.1.0 had it; v0.2.0 is what a real release does to
it: a code fix, a changed default, a new file, a bumped pre-commit hook, a renamed config key
with its migration, and `trainer.tensorboard` deleted by the migration that copier.yml has for
v0.2.0.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, python, run, shared_group

# the tests share one template repository and one update: one xdist worker runs them all
pytestmark = shared_group["update"]
OLD, NEW = "v0.1.0", "v0.2.0"
OLD_KEY, NEW_KEY = "trainer.save_period", "trainer.checkpoint_period"
DELETED_KEY = "trainer.tensorboard"  # copier.yml's migration for v0.2.0 deletes it
TENSORBOARD_LINE = '"tensorboard": true,\n        '
CONFIG_TEMPLATE = "includes/trainer_config.json.jinja"  # the trainer section of every task
MODEL_TEMPLATE = "template/{% if task == 'classification' %}model{% endif %}/digits.py"
CI_WORKFLOW = "template/.github/workflows/ci.yml"
PRE_COMMIT = "template/.pre-commit-config.yaml"
RUFF_REV = re.compile(r"(ruff-pre-commit\n\s+rev: )(\S+)")
RENAME_MIGRATION = {
    "version": NEW,
    "when": "{{ true }}",
    "command": [
        "{{ _copier_python }}",
        "{{ _copier_conf.src_path }}/hooks/migrations/rename_config_key.py",
        OLD_KEY,
        NEW_KEY,
    ],
}
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(*args: str, cwd: Path) -> str:
    """Run git with a fixed identity and without the user's signing settings."""
    done = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_IDENTITY},
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def commit_all(folder: Path, message: str) -> None:
    git("add", "-A", cwd=folder)
    git("commit", "-q", "-m", message, cwd=folder)


def replace_once(path: Path, old: str, new: str) -> None:
    """Edit a file the way a person would; fail loudly when the text to edit has moved on."""
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name}: expected {old!r} once; update this test"
    path.write_text(text.replace(old, new))


def replace_everywhere(folder: Path, old: str, new: str) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and old in path.read_text():
            path.write_text(path.read_text().replace(old, new))


def conflicts(project: Path) -> list[str]:
    """Files with conflict markers or .rej files: what copier leaves when it cannot merge."""
    found = []
    for path in project.rglob("*"):
        if ".git" in path.parts or not path.is_file():
            continue
        lines = path.read_text(errors="replace").splitlines()
        if path.suffix == ".rej" or any(line.startswith(("<<<<<<<", ">>>>>>>")) for line in lines):
            found.append(str(path.relative_to(project)))
    return found


def template_copy(repo: Path) -> Path:
    """The working tree's template files, uncommitted, in the git repository ``repo`` (made if
    new; files of an earlier copy replaced)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ruff_cache", ".pytest_cache")
    shutil.copy2(REPO / "copier.yml", repo)
    for folder in ("template", "hooks", "includes"):
        shutil.rmtree(repo / folder, ignore_errors=True)
        shutil.copytree(REPO / folder, repo / folder, ignore=ignore)
    if not (repo / ".git").exists():
        git("init", "-q", "-b", "main", cwd=repo)
    return repo


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository of the template with the tags v0.1.0 and v0.2.0."""
    repo = template_copy(tmp_path_factory.mktemp("template-repo"))

    (repo / CI_WORKFLOW).unlink()  # v0.2.0 adds it
    replace_once(repo / CONFIG_TEMPLATE, '"figure_period"', TENSORBOARD_LINE + '"figure_period"')
    commit_all(repo, "older release")
    git("tag", OLD, cwd=repo)

    # v0.2.0: a fix in a file users edit too, a new default, a new file, a renamed key
    replace_once(
        repo / MODEL_TEMPLATE, "self.features(x).flatten(1)", "torch.flatten(self.features(x), 1)"
    )
    replace_once(repo / CONFIG_TEMPLATE, '"early_stop": 10', '"early_stop": 5')
    replace_once(repo / CONFIG_TEMPLATE, TENSORBOARD_LINE, "")
    shutil.copy2(REPO / CI_WORKFLOW, repo / CI_WORKFLOW)
    pre_commit = (repo / PRE_COMMIT).read_text()
    assert RUFF_REV.search(pre_commit), "ruff-pre-commit rev not found; update this test"
    (repo / PRE_COMMIT).write_text(RUFF_REV.sub(r"\g<1>v99.0.0", pre_commit))
    for folder in ("template", "includes"):
        replace_everywhere(repo / folder, OLD_KEY.split(".")[-1], NEW_KEY.split(".")[-1])
    copier_yml = yaml.safe_load((repo / "copier.yml").read_text())
    copier_yml["_migrations"] = [*copier_yml.get("_migrations", []), RENAME_MIGRATION]
    (repo / "copier.yml").write_text(yaml.safe_dump(copier_yml, sort_keys=False))
    commit_all(repo, "newer release")
    git("tag", NEW, cwd=repo)
    return repo


def render_old(template_repo: Path, project: Path) -> None:
    done = python(
        "-m", "copier", "copy", "-q", "--defaults", "--vcs-ref", OLD, str(template_repo),
        str(project), cwd=project.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    git("init", "-q", "-b", "main", cwd=project)
    commit_all(project, "generated from the template")


def update(project: Path) -> subprocess.CompletedProcess:
    return python(
        "-m", "copier", "update", "--defaults", "--trust", "--vcs-ref", NEW, cwd=project
    )  # fmt: skip


def edit_like_a_user(project: Path) -> None:
    """Typical edits: config values (the renamed key among them), model, a metric, new files."""
    config = project / "config.json"
    replace_once(config, '"name": "Mnist_MnistNet"', '"name": "Mnist_Wide"')
    replace_once(config, '"args": {}', '"args": {"width": 16}')
    replace_once(config, '"lr": 0.02,', '"lr": 0.003,')
    replace_once(config, '"epochs": 1,', '"epochs": 5,')
    replace_once(config, '"save_period": 1,', '"save_period": 4,')
    replace_once(config, '"tensorboard": true,', '"tensorboard": false,')
    replace_once(config, '"top_k_acc"]', '"top_k_acc", "top_5_acc"]')
    (project / "configs").mkdir()
    fast = config.read_text().replace('"epochs": 5,', '"epochs": 1,')
    (project / "configs/fast.json").write_text(fast)
    replace_once(
        project / "model/digits.py",
        "self.classifier = nn.Linear(4 * width * 3 * 3, num_classes)",
        "self.classifier = nn.Sequential(\n"
        "            nn.Dropout(0.2), nn.Linear(4 * width * 3 * 3, num_classes)\n"
        "        )",
    )
    replace_once(project / "model/metric.py", '"f1"]', '"f1", "top_5_acc"]')  # a choice
    with (project / "model/metric.py").open("a") as metric:
        metric.write(
            "\n\ndef top_5_acc(num_classes: int = NUM_CLASSES) -> Metric:\n"
            '    """Share of samples whose target is among the 5 highest-scoring classes."""\n'
            '    return classification.MulticlassAccuracy(num_classes, top_k=5, average="micro")\n'
        )
    replace_once(project / "README.md", "# mnist-trainer\n", "# Wide MNIST experiments\n")
    with (project / "README.md").open("a") as readme:
        readme.write("\n## Results\n\nMnist_Wide: 99.4% test accuracy.\n")
    (project / "notes.md").write_text("Try width 24 next.\n")
    pre_commit = project / ".pre-commit-config.yaml"  # as `pre-commit autoupdate` would
    pre_commit.write_text(RUFF_REV.sub(r"\g<1>v98.1.0", pre_commit.read_text()))
    commit_all(project, "my experiments")


@pytest.fixture(scope="module")
def updated(template_repo: Path, tmp_path_factory: pytest.TempPathFactory):
    """A project rendered from v0.1.0, edited, committed, then updated to v0.2.0."""
    project = tmp_path_factory.mktemp("updated") / "project"
    render_old(template_repo, project)
    edit_like_a_user(project)
    return project, update(project)


def test_update_succeeds_without_conflicts(updated):
    project, done = updated
    assert done.returncode == 0, done.stdout + done.stderr
    assert conflicts(project) == []
    assert git("diff", "--name-only", "--diff-filter=U", cwd=project) == ""
    assert git("diff", "--cached", "--name-only", cwd=project) == "", "update left files staged"


def test_update_keeps_user_edits(updated):
    project, _ = updated
    config = json.loads((project / "config.json").read_text())
    assert config["name"] == "Mnist_Wide"
    assert config["arch"]["args"] == {"width": 16}
    assert config["optimizer"]["args"]["lr"] == 0.003
    assert config["trainer"]["epochs"] == 5
    assert config["metrics"] == ["accuracy", "top_k_acc", "top_5_acc"]
    model = (project / "model/digits.py").read_text()
    assert "nn.Dropout(0.2), nn.Linear(4 * width * 3 * 3, num_classes)" in model
    assert "def top_5_acc(" in (project / "model/metric.py").read_text()
    readme = (project / "README.md").read_text()
    assert readme.startswith("# Wide MNIST experiments\n")
    assert readme.endswith("## Results\n\nMnist_Wide: 99.4% test accuracy.\n")
    assert (project / "notes.md").read_text() == "Try width 24 next.\n"
    assert json.loads((project / "configs/fast.json").read_text())["trainer"]["epochs"] == 1
    # _skip_if_exists: the user's pre-commit config wins over the template's newer one
    assert RUFF_REV.search((project / ".pre-commit-config.yaml").read_text())[2] == "v98.1.0"


def test_update_applies_template_changes(updated):
    project, _ = updated
    model = (project / "model/digits.py").read_text()
    assert "torch.flatten(self.features(x), 1)" in model and "features(x).flatten(1)" not in model
    assert json.loads((project / "config.json").read_text())["trainer"]["early_stop"] == 5
    assert (project / ".github/workflows/ci.yml").read_text() == (REPO / CI_WORKFLOW).read_text()
    trainer = (project / "trainer/trainer.py").read_text()
    assert 'settings["checkpoint_period"]' in trainer and "save_period" not in trainer
    assert "`trainer.checkpoint_period`" in (project / "README.md").read_text()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == NEW
    assert answers["metrics"] == ["accuracy", "top_k_acc"] and answers["n_gpu"] == 1


def test_migration_carries_the_users_value_to_the_renamed_key(updated):
    project, done = updated
    for name in ("config.json", "configs/fast.json"):
        trainer = json.loads((project / name).read_text())["trainer"]
        assert "save_period" not in trainer, name
        assert trainer["checkpoint_period"] == 4, name
    assert f"{NEW_KEY} = 4" in done.stdout
    assert "renamed in configs/fast.json" in done.stdout
    # the formatting of the user's file is kept: one line changed per edit
    assert '        "checkpoint_period": 4,\n' in (project / "config.json").read_text()


def test_migration_deletes_the_dropped_key_everywhere_and_names_the_users_value(updated):
    project, done = updated
    for name in ("config.json", "configs/fast.json"):
        trainer = json.loads((project / name).read_text())["trainer"]
        assert "tensorboard" not in trainer and trainer["figure_period"] == 5, name
    assert f"delete {DELETED_KEY}: your value false went with the key. TensorBoard" in done.stdout
    assert f"delete {DELETED_KEY}: deleted from configs/fast.json" in done.stdout
    # only the member went: the lines around it are as they were
    assert (
        '"compile": false,\n        "figure_period": 5\n' in (project / "config.json").read_text()
    )


def test_migration_is_idempotent(updated):
    project, _ = updated
    before = {p: p.read_text() for p in (project / "config.json", project / "configs/fast.json")}
    migrations = REPO / "hooks/migrations"
    for script, keys in (
        ("rename_config_key.py", (OLD_KEY, NEW_KEY)),
        ("delete_config_key.py", (DELETED_KEY,)),
    ):
        for stage in ("before", "after"):
            done = python(str(migrations / script), "--stage", stage, *keys, cwd=project)
            assert done.returncode == 0, done.stderr
        assert "nothing left to change" in done.stdout
    assert {p: p.read_text() for p in before} == before


def test_updated_project_trains_with_the_users_metric_and_renamed_key(updated, tmp_path):
    project, _ = updated
    data = tmp_path / "data"
    # the project's own synthetic MNIST files (its tests/conftest.py writes them)
    code = f"import pathlib, tests.conftest as c; c.write_mnist(pathlib.Path({str(data)!r}))"
    write = python("-c", code, cwd=project)
    assert write.returncode == 0, write.stderr
    save_dir = tmp_path / "saved"
    train = python(
        "train.py", "n_gpu=0", "trainer.epochs=1", f"data_loader.args.data_dir={data}",
        f"trainer.save_dir={save_dir}", cwd=project, timeout=300,
    )  # fmt: skip
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-2000:]
    (run_dir,) = (save_dir / "models" / "Mnist_Wide").iterdir()
    saved = {p.name for p in run_dir.iterdir()}
    assert "model_best.pth" in saved
    assert "checkpoint-epoch1.pth" not in saved  # checkpoint_period 4
    log = next((save_dir / "log" / "Mnist_Wide").glob("*/info.log")).read_text()
    assert "val_top_5_acc" in log


def test_copier_reports_success_on_conflicts_so_we_look_for_markers(template_repo, tmp_path):
    """An edit next to a line the template changes conflicts; copier still exits with 0."""
    project = tmp_path / "project"
    render_old(template_repo, project)
    replace_once(project / "config.json", '"monitor": "max val_accuracy"', '"monitor": "off"')
    commit_all(project, "no monitoring")
    done = update(project)
    assert done.returncode == 0, done.stderr
    assert conflicts(project) == ["config.json"]
    # the commands docs/updating.md and the message after the update give find it
    assert git("diff", "--name-only", "--diff-filter=U", cwd=project).split() == ["config.json"]
    grep = run(["grep", "-rnE", "^(<<<<<<<|>>>>>>>) ", "--exclude-dir=.git", "."], cwd=project)
    assert grep.stdout.count("config.json:") == 2
    assert "<<<<<<< before updating" in (project / "config.json").read_text()
