"""`copier update` from 0.2 deletes the model's shape keys from config.json: the number of classes
(`arch.args.num_classes`), of regression outputs (`arch.args.num_outputs`) and the input channels
(`arch.args.in_channels`), which folder projects of 0.2 wrote in `arch.args` beside the data's
description. The migrations of copier.yml for v0.3.0 do it.

The test builds its own template repository from the working tree (tests/test_update.py says
why): v0.2.0 is the working tree with those keys back in the folder configs' `arch.args`, as 0.2
rendered them, and without the v0.3.0 migrations; v0.3.0 is the working tree.
"""

import json
import re
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import python
from tests.photos import classification_folder
from tests.test_update import commit_all, conflicts, git, replace_once, template_copy

OLD, NEW = "v0.2.0", "v0.3.0"
# arch.args of the folder configs in 0.2 (MNIST configs had {} in both versions)
OLD_ARCH_ARGS = {
    "classification": '{"num_classes": 10, "in_channels": 1}',
    "segmentation": '{"num_classes": 11, "in_channels": 1}',
    "regression": '{"num_outputs": 1, "in_channels": 1}',
}
ARCH_ARGS = re.compile(r'("arch": \{\n\s+"type": [^\n]+\n\s+"args": )\{\}')


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = template_copy(tmp_path_factory.mktemp("template-repo"))
    for task, args in OLD_ARCH_ARGS.items():
        path = repo / "template" / f"{{% if task == '{task}' %}}config.json{{% endif %}}.jinja"
        old = f"{{{{ '{{}}' if dataset == 'mnist' else '{args}' }}}}"
        text, count = ARCH_ARGS.subn(lambda m: m[1] + old, path.read_text())  # noqa: B023
        assert count == 1, f"{path.name}: arch.args not found; update this test"
        path.write_text(text)
    copier_yml = yaml.safe_load((repo / "copier.yml").read_text())
    copier_yml["_migrations"] = [m for m in copier_yml["_migrations"] if m["version"] != NEW]
    (repo / "copier.yml").write_text(yaml.safe_dump(copier_yml, sort_keys=False))
    commit_all(repo, "0.2")
    git("tag", OLD, cwd=repo)
    commit_all(template_copy(repo), "0.3")
    git("tag", NEW, cwd=repo)
    return repo


def render_old(template_repo: Path, project: Path, *answers: str) -> None:
    data = [arg for answer in answers for arg in ("--data", answer)]
    done = python(
        "-m", "copier", "copy", "-q", "--defaults", "--vcs-ref", OLD, *data, str(template_repo),
        str(project), cwd=project.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    git("init", "-q", "-b", "main", cwd=project)
    commit_all(project, "generated from the template")


def update(project: Path):
    done = python("-m", "copier", "update", "--defaults", "--trust", "--vcs-ref", NEW, cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert conflicts(project) == []
    return done


def test_update_deletes_the_shape_keys_the_user_set_for_their_photos(template_repo, tmp_path):
    project = tmp_path / "project"
    render_old(template_repo, project, "dataset=folder", "n_gpu=0")
    config = project / "config.json"
    # what 0.2 made a user with 8 classes of RGB photos write, twice: in arch and in data_loader
    old, mine = '"num_classes": 10, "in_channels": 1', '"num_classes": 8, "in_channels": 3'
    replace_once(config, old, mine)
    (project / "configs").mkdir()
    (project / "configs" / "small.json").write_text(config.read_text())  # copier never merges it
    commit_all(project, "my photos")

    done = update(project)
    for name in ("config.json", "configs/small.json"):
        assert json.loads((project / name).read_text())["arch"] == {"type": "PhotoNet", "args": {}}
    assert "delete arch.args.num_classes: your value 8 went with the key. The" in done.stdout
    assert "delete arch.args.in_channels: your value 3 went with the key." in done.stdout
    assert "delete arch.args.num_classes: deleted from configs/small.json" in done.stdout

    # the updated project trains on 3 classes of photos with its config as it is
    classification_folder(tmp_path / "data", 3, n_train=8, n_test=4)
    save_dir = tmp_path / "saved"
    overrides = [f"data_loader.args.data_dir={tmp_path / 'data'}", "data_loader.args.num_workers=0"]
    trained = python(
        "train.py", *overrides, f"trainer.save_dir={save_dir}", "trainer.epochs=1", cwd=project
    )
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-2000:]
    (run,) = (save_dir / "models").glob("*/*")
    state = torch.load(run / "model_best.pth", weights_only=True)
    assert state["state_dict"]["classifier.weight"].shape[0] == len(state["class_names"]) == 3


def test_update_of_a_project_without_the_keys_changes_nothing_there(template_repo, tmp_path):
    project = tmp_path / "project"
    render_old(template_repo, project)  # MNIST: its arch.args were {} already
    before = json.loads((project / "config.json").read_text())["arch"]
    done = update(project)
    assert json.loads((project / "config.json").read_text())["arch"] == before
    for key in ("num_classes", "num_outputs", "in_channels"):
        assert f"delete arch.args.{key}: nothing left to change" in done.stdout
