"""The generated project's own test suite passes inside rendered projects, run by the command
of its CI workflow."""

import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

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


# The suites run two at a time, each with one thread per process: their time goes mostly to
# Python (imports, small batches, figures, checkpoints), so two lanes on two cores take about
# half the time of one after the other, and one thread each keeps them from oversubscribing.
LANES = 2
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def suites(copie_session) -> Iterator[dict[str, tuple[Any, Future]]]:
    """Every variant rendered, and its suite started in the background; a test waits for its own."""
    with ThreadPoolExecutor(LANES) as pool:
        runs = {}
        for answers in SUITE_VARIANTS:
            result = copie_session.copy(extra_answers=answers)
            suite = pool.submit(run_ci_step, result.project_dir, "Test", env=ONE_THREAD)
            runs[variant_id(answers)] = result, suite
        yield runs
        for _, suite in runs.values():
            suite.cancel()


@pytest.mark.parametrize("answers", SUITE_VARIANTS, ids=variant_id)
def test_project_suite_passes(suites, answers):
    result, running = suites[variant_id(answers)]
    assert result.exit_code == 0, result.exception
    suite = running.result()
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", suite.stdout).group(1))
    assert passed >= 40 and "failed" not in suite.stdout
