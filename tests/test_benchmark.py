"""The benchmark runs end to end (on a tiny MNIST subset: its figures are not checked here)."""

import json

import pytest

from tests.conftest import REPO, python, write_mnist_subset


@pytest.mark.slow
def test_benchmark_prints_its_figures(mnist_data, tmp_path):
    write_mnist_subset(mnist_data, tmp_path / "data", n_train=1280, n_test=256)
    result = python(
        str(REPO / "benchmarks" / "bench.py"),
        str(tmp_path / "data"),
        "--epochs-timed",
        "1",
        "--repeats",
        "1",
        "--runs",
        "1",
        "--overrides",
        "trainer.epochs=1",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(result.stdout)
    assert {
        "time_to_99_s_ours",
        "time_to_99_s_bare",
        "time_to_99_ratio",
        "test_accuracy",
        "bare_test_accuracy",
        "epoch_s_ours",
        "epoch_s_bare",
        "overhead_ratio",
        "samples_per_s_ours",
        "peak_rss_mib",
        "startup_help_s",
        "import_torch_s",
        "help_over_torch",
        "render_defaults_s",
    } <= set(figures)
    assert figures["epoch_s_ours"] > 0 and figures["peak_rss_mib"] > 50
    assert 0 <= figures["bare_test_accuracy"] <= 1 and figures["time_to_99_s_bare"] > 0
    assert 0 < figures["render_defaults_s"] < 60  # a figure, not a target: docs/performance.md
