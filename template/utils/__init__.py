from utils.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from utils.metric_tracker import MetricTracker
from utils.util import (
    InputError,
    TrainingInterrupted,
    inf_loop,
    read_json,
    result_lines,
    rng_state,
    seed_everything,
    set_rng_state,
    write_json,
)

__all__ = [
    "InputError",
    "MetricTracker",
    "TrainingInterrupted",
    "find_checkpoint",
    "inf_loop",
    "load_checkpoint",
    "read_json",
    "result_lines",
    "rng_state",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
    "write_json",
]
