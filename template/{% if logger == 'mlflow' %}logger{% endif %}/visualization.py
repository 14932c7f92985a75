"""What the trainer sends to MLflow: a local store in saved/mlflow/ unless a tracking URI is set."""

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from logger.writer import ExperimentWriter
from utils.util import InputError

# the MLflow run id of a run folder: a resumed run (train.py -r) continues the same MLflow run
RUN_ID_FILE = "mlflow-run-id.txt"
PARAMS_PER_CALL = 100  # MLflow's limit for one log_batch


class MlflowWriter(ExperimentWriter):
    """Metrics by epoch and step, the config as params, pictures and checkpoints as artifacts."""

    def __init__(self, client: MlflowClient, run_id: str):
        self.client, self.run_id = client, run_id

    def log_scalars(self, values: dict[str, float], step: int, mode: str) -> None:
        now = int(time.time() * 1000)
        metrics = [Metric(f"{mode}/{name}", float(v), now, step) for name, v in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def log_picture(self, tag: str, pixels: np.ndarray, step: int) -> None:
        self.client.log_image(self.run_id, pixels, f"images/{tag}/epoch{step}.png")

    def log_config(self, config: dict[str, Any]) -> None:
        # params never change in MLflow: a resumed run adds new keys only, and config.json (an
        # artifact, replaced each time) holds the latest values
        logged = self.client.get_run(self.run_id).data.params
        params = [Param(k, v) for k, v in flatten(config).items() if k not in logged]
        for start in range(0, len(params), PARAMS_PER_CALL):
            self.client.log_batch(self.run_id, params=params[start : start + PARAMS_PER_CALL])
        self.client.log_dict(self.run_id, config, "config.json")

    def log_best_model(self, path: Path) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path="checkpoints")

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{'optimizer': {'args': {'lr': 0.01}}}`` -> ``{'optimizer.args.lr': '0.01'}``."""
    params = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            params.update(flatten(value, f"{prefix}{key}."))
        else:
            params[prefix + key] = value if isinstance(value, str) else json.dumps(value)
    return params


def create_writer(config: Any) -> ExperimentWriter:
    """Start the run's MLflow run, or continue it when the run folder already has one."""
    settings = config["mlflow"]
    store = Path(config["trainer"]["save_dir"]).resolve() / "mlflow"
    uri = settings["tracking_uri"]
    if uri is None:
        store.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{(store / 'mlflow.db').as_posix()}"
    client = MlflowClient(uri)
    id_file = Path(config.log_dir) / RUN_ID_FILE
    if id_file.is_file():
        run_id = id_file.read_text().strip()
        try:
            client.update_run(run_id, status="RUNNING")
        except MlflowException:
            fix = (
                "set mlflow.tracking_uri to its store, or delete the file to start a new MLflow run"
            )
            raise InputError(f"{id_file}: MLflow run {run_id} is not in {uri}; {fix}") from None
        return MlflowWriter(client, run_id)
    name = settings["experiment"] or config["name"]
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        # the default store keeps artifacts beside its database; a server chooses its own place
        artifacts = (store / "artifacts").as_uri() if settings["tracking_uri"] is None else None
        experiment_id = client.create_experiment(name, artifact_location=artifacts)
    elif experiment.lifecycle_stage == "deleted":
        fix = "restore it (mlflow experiments restore) or choose another name"
        raise InputError(f"mlflow.experiment: experiment {name!r} is deleted in {uri}; {fix}")
    else:
        experiment_id = experiment.experiment_id
    run_name = settings["run_name"] or config.save_dir.name
    run_id = client.create_run(experiment_id, run_name=run_name).info.run_id
    id_file.write_text(run_id + "\n")
    return MlflowWriter(client, run_id)
