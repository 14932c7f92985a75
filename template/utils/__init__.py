from utils.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from utils.metric_tracker import MetricTracker
from utils.util import InputError, inf_loop, prepare_device, read_json, seed_everything, write_json

__all__ = [
    "InputError",
    "MetricTracker",
    "find_checkpoint",
    "inf_loop",
    "load_checkpoint",
    "prepare_device",
    "read_json",
    "save_checkpoint",
    "seed_everything",
    "write_json",
]
