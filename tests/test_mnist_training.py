"""The default project trained on the real MNIST reaches 99% test accuracy."""

import json
import time

from tests.conftest import python


def test_default_project_reaches_99_percent_on_mnist(copie, mnist_data, tmp_path):
    result = copie.copy()
    assert result.exit_code == 0, result.exception
    project, save_dir = result.project_dir, tmp_path / "saved"
    start = time.perf_counter()
    trained = python(
        "train.py",
        "-c",
        "config.json",
        f"trainer.save_dir={save_dir}",
        f"data_loader.args.data_dir={mnist_data}",
        cwd=project,
    )
    seconds = time.perf_counter() - start
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    (run,) = (save_dir / "models").glob("*/*")
    tested = python(
        "test.py",
        "-r",
        str(run / "model_best.pth"),
        f"data_loader.args.data_dir={mnist_data}",
        cwd=project,
    )
    assert tested.returncode == 0, tested.stderr[-3000:]
    metrics = json.loads((run / "test_metrics.json").read_text())
    print(f"\ndefault project: test accuracy {metrics['accuracy']:.4f}, train.py {seconds:.1f} s")
    assert metrics["accuracy"] >= 0.99
