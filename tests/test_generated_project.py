"""The generated project's own test suite passes inside rendered projects, run by the command
of its CI workflow."""

import itertools
import re

import pytest

from tests.conftest import LOGGERS, METRICS, N_GPUS, SUITE_VARIANTS, TASKS, variant_id
from tests.project_ci import run_ci_step


def test_suite_variants_cover_every_pair_of_answers():
    """Pairwise coverage: each task x logger, task x n_gpu and logger x n_gpu pair, and each
    metric of each task, is in some variant whose suite runs; the defaults come first."""
    pairs = (
        {(("task", "logger"), (v["task"], v["logger"])) for v in SUITE_VARIANTS}
        | {(("task", "n_gpu"), (v["task"], v["n_gpu"])) for v in SUITE_VARIANTS}
        | {(("logger", "n_gpu"), (v["logger"], v["n_gpu"])) for v in SUITE_VARIANTS}
    )
    expected = (
        {(("task", "logger"), p) for p in itertools.product(TASKS, LOGGERS)}
        | {(("task", "n_gpu"), p) for p in itertools.product(TASKS, N_GPUS)}
        | {(("logger", "n_gpu"), p) for p in itertools.product(LOGGERS, N_GPUS)}
    )
    assert pairs == expected
    assert len(SUITE_VARIANTS) == len(TASKS) * len(LOGGERS)
    for task in TASKS:
        chosen = {m for v in SUITE_VARIANTS if v["task"] == task for m in v["metrics"]}
        assert chosen == set(METRICS[task])
    first = SUITE_VARIANTS[0]
    assert (first["task"], first["logger"], first["n_gpu"]) == ("classification", "tensorboard", 1)


@pytest.mark.parametrize("answers", SUITE_VARIANTS, ids=variant_id)
def test_project_suite_passes(copie, answers):
    result = copie.copy(extra_answers=answers)
    assert result.exit_code == 0, result.exception
    suite = run_ci_step(result.project_dir, "Test")
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", suite.stdout).group(1))
    assert passed >= 40 and "failed" not in suite.stdout
