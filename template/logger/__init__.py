from logger.logger import setup_logging
from logger.writer import ExperimentWriter

__all__ = ["ExperimentWriter", "setup_logging"]
