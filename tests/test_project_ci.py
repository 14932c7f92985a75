"""The generated project's CI workflow and pre-commit config: what they run, and that it passes.

tests/test_generated_project.py runs the workflow's test step in three rendered variants.
"""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.project_ci import ci_step, ci_steps, run_ci_step, workflow

PINNED = re.compile(r"^v\d+\.\d+\.\d+$")


@pytest.fixture(scope="module")
def project(copie_session) -> Path:
    result = copie_session.copy(extra_answers={"logger": "none", "metrics": ["precision"]})
    assert result.exit_code == 0, result.exception
    return result.project_dir


def test_workflow_installs_cpu_torch_then_the_project_then_lints_and_tests(project: Path):
    steps = ci_steps(project)
    assert [step.get("uses", "").split("@")[0] for step in steps[:2]] == [
        "actions/checkout",
        "actions/setup-python",
    ]
    assert [step.get("name") for step in steps[2:]] == [
        "Install PyTorch (CPU build)",
        "Install the project",
        "Lint",
        "Test",
    ]
    torch = ci_step(project, "Install PyTorch (CPU build)")["run"]
    # torchvision from the same index: from PyPI it would pull its own torch build
    assert torch == "pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu"
    assert ci_step(project, "Install the project")["run"] == 'pip install -e ".[dev]"'
    assert ci_step(project, "Lint")["run"].split("\n")[:2] == [
        "ruff check .",
        "ruff format --check .",
    ]
    assert ci_step(project, "Test")["run"] == "pytest"
    # the tools the steps call come with the dev extra
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    dev = " ".join(pyproject["project"]["optional-dependencies"]["dev"])
    assert "pytest" in dev and "ruff" in dev


def test_workflow_keeps_github_expressions_and_tests_the_oldest_python(project: Path):
    text = (project / ".github/workflows/ci.yml").read_text()
    assert "python-version: ${{ matrix.python-version }}" in text
    assert "group: ${{ github.workflow }}-${{ github.ref }}" in text
    (job,) = workflow(project)["jobs"].values()
    versions = job["strategy"]["matrix"]["python-version"]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    oldest = pyproject["project"]["requires-python"].removeprefix(">=")
    assert oldest in versions and all(isinstance(v, str) for v in versions)  # "3.10", not 3.1
    triggers = workflow(project).get("on", workflow(project).get(True))  # YAML 1.1: on = true
    assert set(triggers) == {"push", "pull_request", "workflow_dispatch"}


def test_workflow_lint_step_passes_in_a_rendered_project(project: Path):
    lint = run_ci_step(project, "Lint", timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "All checks passed!" in lint.stdout


def test_pre_commit_config_pins_ruff_and_catches_copier_conflict_markers(project: Path):
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    hooks = {}
    for repo in config["repos"]:
        assert PINNED.match(repo["rev"]), f"{repo['repo']}: pin a release tag, got {repo['rev']}"
        hooks.update({hook["id"]: hook for hook in repo["hooks"]})
    assert {"ruff-check", "ruff-format", "check-merge-conflict", "check-json"} <= set(hooks)
    # copier update leaves its markers outside a git merge: the hook must look anyway
    assert hooks["check-merge-conflict"]["args"] == ["--assume-in-merge"]
    assert (REPO / "template/.pre-commit-config.yaml").read_text() == (
        project / ".pre-commit-config.yaml"
    ).read_text()
