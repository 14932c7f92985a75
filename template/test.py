"""``python test.py -r CHECKPOINT``: the test split's test_metrics.json and figures beside it."""

import logging
from itertools import islice

import torch

from model.figures import Figures
from model.metric import per_class
from parse_config import ConfigParser, cli_parser, run_cli
from trainer import evaluate
from utils import distributed
from utils.checkpoint import load_model
from utils.metric_tracker import MetricTracker
from utils.util import result_lines, write_json


def main(config: ConfigParser) -> None:
    with distributed.session(config["n_gpu"]) as device:
        evaluate_checkpoint(config, device)


def evaluate_checkpoint(config: ConfigParser, device: torch.device, batches: int = 0) -> None:
    """The test split (``batches``: its first only, for --fast-dev-run), under DDP in shards."""
    logger = logging.getLogger("test")
    data_loader = config.init_obj("data_loader", shuffle=False, validation_split=0, training=False)
    model = load_model(config).to(device)
    logger.info(model)

    metrics = config.init_metrics(len(data_loader.class_names))
    tracker = MetricTracker({**metrics, **per_class(data_loader.class_names)}, device)
    figures = Figures(data_loader.class_names)  # under DDP: drawn from the main process's shard
    data = islice(data_loader, batches or None)  # 0: all of it
    # the plain loss (loss.class_weights weigh training only), comparable between runs
    results = evaluate(model, data, config.init_ftn("loss"), tracker, figures.update)
    if not distributed.is_main():
        return
    for line in result_lines(results):
        logger.info(line)
    path = config.resume.parent / "test_metrics.json"
    write_json({**results, "class_names": data_loader.class_names}, path)
    logger.info(f"Saved test metrics: {path}")
    for name, figure in figures.draw().items():
        path = config.resume.parent / f"test_{name}.png"
        figure.savefig(path, dpi=100)
        logger.info(f"Saved figure: {path}")


def cli(argv: list[str] | None = None) -> None:
    parser = cli_parser("Evaluate a checkpoint on the test split.", checkpoint_required=True)
    run_cli(parser, main, argv)


if __name__ == "__main__":
    cli()
