"""Console and file logging, configured from logger_config.json."""

import logging.config
from pathlib import Path

from utils.util import read_json

LOG_CONFIG = Path(__file__).with_name("logger_config.json")


def setup_logging(log_dir: Path | None, level: int = logging.INFO) -> None:
    """Log to the console, and to ``log_dir/info.log`` when a run folder is given."""
    config = read_json(LOG_CONFIG)
    config["root"]["level"] = level
    for name, handler in list(config["handlers"].items()):
        if "filename" in handler and log_dir is not None:
            handler["filename"] = str(log_dir / handler["filename"])
        elif "filename" in handler:
            del config["handlers"][name]
            config["root"]["handlers"].remove(name)
    logging.config.dictConfig(config)
