"""W&B in the tests (conftest.py loads this file): no network, and no W&B run unless a test
asks for one (test_wandb.py does): starting W&B takes seconds."""

import os

import pytest

# for runs that leave wandb.mode at null (W&B's own setting), such as train.py in a subprocess
os.environ["WANDB_MODE"] = "disabled"


@pytest.fixture(scope="session")
def logger_settings() -> dict:
    """Config sections that base_config updates: W&B off, without starting it at all."""
    return {"wandb": {"mode": "disabled"}}
