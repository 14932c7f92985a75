from logger.logger import setup_logging
from logger.visualization import create_writer
from logger.writer import ExperimentWriter

__all__ = ["ExperimentWriter", "create_writer", "setup_logging"]
