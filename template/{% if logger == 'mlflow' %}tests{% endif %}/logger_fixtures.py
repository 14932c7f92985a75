"""MLflow in the tests (conftest.py loads this file): no usage reports, one store per session."""

import json
import os
from pathlib import Path

import pytest

# read when mlflow is imported: MLflow sends usage data unless told not to
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def logger_settings(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Config sections that base_config updates: one MLflow store for the session's runs,
    because creating a store's tables takes seconds."""
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{(folder / 'mlflow.db').as_posix()}"
    name = json.loads((PROJECT / "config.json").read_text())["name"]
    MlflowClient(uri).create_experiment(name, artifact_location=(folder / "artifacts").as_uri())
    return {"mlflow": {"tracking_uri": uri}}
