"""Console and file logging, configured from logger_config.json."""

import logging
import logging.config
from pathlib import Path

from utils.util import read_json

LOG_CONFIG = Path(__file__).with_name("logger_config.json")


def setup_logging(log_dir: Path | None, level: int = logging.INFO) -> None:
    """Log to the console, and to ``log_dir/info.log`` when a run folder is given."""
    config = read_json(LOG_CONFIG)
    for name, handler in list(config["handlers"].items()):
        if "filename" not in handler:
            continue
        if log_dir is None:
            del config["handlers"][name]
            config["root"]["handlers"].remove(name)
        else:
            handler["filename"] = str(log_dir / handler["filename"])
    config["root"]["level"] = level
    logging.config.dictConfig(config)
