"""The generated project's own test suite passes inside rendered projects, run by the command
of its CI workflow."""

import re

import pytest

from tests.conftest import METRICS
from tests.project_ci import run_ci_step


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"logger": "none", "n_gpu": 0, "metrics": list(METRICS["classification"])},
        {"logger": "tensorboard", "n_gpu": 2, "metrics": ["f1"]},
        {"logger": "csv", "n_gpu": 0},
        {"logger": "wandb", "n_gpu": 0, "task": "regression"},
        {"logger": "mlflow", "n_gpu": 1, "metrics": ["precision", "recall"]},
        {"task": "segmentation", "n_gpu": 0, "metrics": list(METRICS["segmentation"])},
        {"task": "regression", "metrics": list(METRICS["regression"])},
    ],
    ids=[
        "defaults",
        "none-cpu-all-metrics",
        "tensorboard-2gpu-f1",
        "csv",
        "wandb-regression",
        "mlflow",
        "segmentation-cpu-all-metrics",
        "regression-all-metrics",
    ],
)
def test_project_suite_passes(copie, answers):
    result = copie.copy(extra_answers=answers)
    assert result.exit_code == 0, result.exception
    suite = run_ci_step(result.project_dir, "Test")
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", suite.stdout).group(1))
    assert passed >= 40 and "failed" not in suite.stdout
