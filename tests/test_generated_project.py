"""The generated project's own test suite passes inside rendered projects, run by the command
of its CI workflow."""

import re

import pytest

from tests.conftest import METRICS
from tests.project_ci import run_ci_step


# every task, every logger and every n_gpu at least once (each suite takes about a minute)
@pytest.mark.parametrize(
    "answers",
    [
        {},
        {
            "task": "segmentation",
            "logger": "none",
            "n_gpu": 0,
            "metrics": list(METRICS["segmentation"]),
        },
        {"task": "regression", "logger": "csv", "n_gpu": 2, "metrics": list(METRICS["regression"])},
        {"logger": "wandb", "n_gpu": 0, "metrics": ["f1"]},
        {"logger": "mlflow", "n_gpu": 1, "metrics": ["precision", "recall"]},
    ],
    ids=[
        "classification-tensorboard-1gpu",
        "segmentation-none-cpu",
        "regression-csv-2gpu",
        "classification-wandb-cpu-f1",
        "classification-mlflow-1gpu",
    ],
)
def test_project_suite_passes(copie, answers):
    result = copie.copy(extra_answers=answers)
    assert result.exit_code == 0, result.exception
    suite = run_ci_step(result.project_dir, "Test")
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", suite.stdout).group(1))
    assert passed >= 40 and "failed" not in suite.stdout
