"""No experiment logger was chosen (logger: none): results go to the console and info.log only.

To add one later, answer the ``logger`` question again with ``copier update``.
"""

from typing import Any

from logger.writer import ExperimentWriter


def create_writer(config: Any) -> ExperimentWriter:
    """The base writer, which records nothing."""
    return ExperimentWriter()
