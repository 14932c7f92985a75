"""The generated project's own test suite passes inside rendered projects, run by the command
of its CI workflow."""

import re

import pytest

from tests.conftest import (
    DATASETS,
    DEFAULT_METRICS,
    LOGGERS,
    METRICS,
    N_GPUS,
    SUITE_VARIANTS,
    TASKS,
    variant_id,
)
from tests.project_ci import run_ci_step


def test_suite_variants_cover_every_answer():
    """Every answer of task, logger, n_gpu and dataset, and each metric of each task, is in some
    variant whose suite runs; the defaults come first."""
    choices = {"task": TASKS, "logger": LOGGERS, "n_gpu": N_GPUS, "dataset": DATASETS}
    for question, answers in choices.items():
        assert {v[question] for v in SUITE_VARIANTS} == set(answers), question
    assert {(v["task"], v["dataset"]) for v in SUITE_VARIANTS} == {
        (task, dataset) for task in TASKS for dataset in DATASETS
    }
    for task in TASKS:
        chosen = {m for v in SUITE_VARIANTS if v["task"] == task for m in v["metrics"]}
        assert chosen == set(METRICS[task])
    defaults = SUITE_VARIANTS[0]
    assert (defaults["task"], defaults["logger"], defaults["n_gpu"], defaults["dataset"]) == (
        "classification",
        "tensorboard",
        1,
        "mnist",
    )
    assert defaults["metrics"] == DEFAULT_METRICS["classification"]


# One test per variant: pytest-xdist spreads the six suites over its workers, each suite one
# process with one torch thread (tests/conftest.py), so two cores run two suites at a time.
@pytest.mark.slow
@pytest.mark.parametrize("answers", SUITE_VARIANTS, ids=variant_id)
def test_project_suite_passes(copie, answers):
    result = copie.copy(extra_answers=answers)
    assert result.exit_code == 0, result.exception
    suite = run_ci_step(result.project_dir, "Test")
    start = suite.stdout.find("= FAILURES =")  # the tracebacks, which the output's tail is not
    failures = suite.stdout[start : start + 6000] if start >= 0 else ""
    assert suite.returncode == 0, failures + suite.stdout[-2000:] + suite.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", suite.stdout).group(1))
    assert passed >= 40 and "failed" not in suite.stdout
