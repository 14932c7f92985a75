"""The MLflow store, read back with MlflowClient: one MLflow run across a resumed run."""

from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import epoch_results, log_dir
from tests.test_training import train_in_process
from utils.util import InputError

STEP_LR = {"type": "StepLR", "interval": "epoch", "warmup_steps": 0, "args": {"step_size": 1}}


def default_store(config: dict) -> MlflowClient:
    database = Path(config["trainer"]["save_dir"]).resolve() / "mlflow" / "mlflow.db"
    return MlflowClient(f"sqlite:///{database.as_posix()}")


def test_metrics_params_pictures_and_best_model_in_one_run_across_a_resume(
    base_config: dict, tmp_path
):
    base_config["mlflow"]["tracking_uri"] = None  # the default store in trainer.save_dir
    base_config["lr_scheduler"] = STEP_LR
    run = train_in_process(base_config)
    base_config["trainer"]["epochs"] = 3
    train_in_process(base_config, resume=run / "checkpoint-epoch2.pth")

    client = default_store(base_config)
    experiment = client.get_experiment_by_name(base_config["name"])
    (logged,) = client.search_runs([experiment.experiment_id])
    run_id = logged.info.run_id
    assert (log_dir(base_config, run) / "mlflow-run-id.txt").read_text().strip() == run_id
    assert logged.info.status == "FINISHED" and logged.info.run_name == run.name

    printed = epoch_results(base_config, run)
    for name in ["loss", *base_config["metrics"]]:
        for mode, key in (("train", name), ("valid", f"val_{name}")):
            history = client.get_metric_history(run_id, f"{mode}/{name}")
            assert {m.step: m.value for m in history} == {e: printed[e][key] for e in (1, 2, 3)}
    steps = [m.step for m in client.get_metric_history(run_id, "train_step/loss")]
    assert len(steps) >= 3 and sorted(steps) == sorted(set(steps))  # the resumed run went on

    params = logged.data.params
    assert params["optimizer.args.lr"] == str(base_config["optimizer"]["args"]["lr"])
    assert params["trainer.epochs"] == "2"  # MLflow params never change; config.json has the latest
    saved = Path(client.download_artifacts(run_id, "config.json", str(tmp_path)))
    assert '"epochs": 3' in saved.read_text()
    best = client.download_artifacts(run_id, "checkpoints/model_best.pth", str(tmp_path))
    assert Path(best).read_bytes() == (run / "model_best.pth").read_bytes()

    # pictures: the input grid every epoch, figures after each start's last epoch (period 5)
    tags = [a.path for a in client.list_artifacts(run_id, "images/valid")]
    drawn = {
        tag: {a.path.rsplit("/", 1)[1] for a in client.list_artifacts(run_id, tag)} for tag in tags
    }
    assert drawn.pop("images/valid/input") == {"epoch1.png", "epoch2.png", "epoch3.png"}
    assert drawn and all(names == {"epoch2.png", "epoch3.png"} for names in drawn.values()), drawn


def test_a_run_missing_from_the_store_is_a_clear_error(base_config: dict):
    base_config["trainer"]["epochs"] = 1
    run = train_in_process(base_config)
    (log_dir(base_config, run) / "mlflow-run-id.txt").write_text("0123456789abcdef\n")
    with pytest.raises(InputError, match="MLflow run 0123456789abcdef is not in sqlite:///.*; set"):
        train_in_process(base_config, resume=run / "checkpoint-epoch1.pth")


def test_tracking_uri_from_the_config(base_config: dict, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow keeps artifacts of a store it did not create in ./mlruns
    uri = f"sqlite:///{(tmp_path / 'elsewhere.db').as_posix()}"
    base_config["mlflow"].update(tracking_uri=uri, experiment="digits", run_name="first try")
    base_config["trainer"]["epochs"] = 1
    train_in_process(base_config)
    client = MlflowClient(uri)
    (logged,) = client.search_runs([client.get_experiment_by_name("digits").experiment_id])
    assert logged.info.run_name == "first try"
    assert [m.step for m in client.get_metric_history(logged.info.run_id, "valid/loss")] == [1]
    assert not (Path(base_config["trainer"]["save_dir"]) / "mlflow").exists()
