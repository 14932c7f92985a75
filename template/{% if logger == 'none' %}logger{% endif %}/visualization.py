"""No experiment logger was chosen (logger: none): results go to the console and info.log, input
images and figures to PNG files in the run's log folder.

To add a logger later, answer the ``logger`` question again with ``copier update``.
"""

from typing import Any

from logger.png import PngWriter
from logger.writer import ExperimentWriter


def create_writer(config: Any) -> ExperimentWriter:
    """A writer of PNG files, which records nothing else."""
    return PngWriter(config.log_dir)
