"""The generated project's own test suite passes inside rendered projects."""

import re

import pytest

from tests.conftest import METRICS, python


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"logger": "none", "n_gpu": 0, "metrics": list(METRICS["classification"])},
        {"logger": "tensorboard", "n_gpu": 2, "metrics": ["f1"]},
        {"task": "segmentation", "n_gpu": 0, "metrics": list(METRICS["segmentation"])},
        {"task": "regression", "metrics": list(METRICS["regression"])},
    ],
    ids=[
        "defaults",
        "none-cpu-all-metrics",
        "tensorboard-2gpu-f1",
        "segmentation-cpu-all-metrics",
        "regression-all-metrics",
    ],
)
def test_project_suite_passes(copie, answers):
    result = copie.copy(extra_answers=answers)
    assert result.exit_code == 0, result.exception
    suite = python("-m", "pytest", "-p", "no:cacheprovider", cwd=result.project_dir)
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", suite.stdout).group(1))
    assert passed >= 40 and "failed" not in suite.stdout
