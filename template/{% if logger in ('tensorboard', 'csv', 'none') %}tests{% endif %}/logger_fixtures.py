"""The chosen logger's set-up for the tests (conftest.py loads it): this logger needs none."""

import pytest


@pytest.fixture(scope="session")
def logger_settings() -> dict:
    """Config sections that base_config updates for this logger: none."""
    return {}
