"""Evaluate a checkpoint on the test split: ``python test.py -r CHECKPOINT [KEY.PATH=VALUE ...]``.

Prints the loss and metrics and writes them to ``test_metrics.json`` beside the checkpoint, with
the task's figures (model/figures.py) as PNG files.
"""

import argparse
import logging

import torch

import data_loader.data_loaders as module_data
import model.figures as module_figures
import model.loss as module_loss
import model.metric as module_metric
import model.model as module_arch
from base.base_trainer import load_weights
from parse_config import ConfigParser, run_cli
from trainer import evaluate
from utils import MetricTracker, distributed, load_checkpoint, result_lines, write_json


def main(config: ConfigParser) -> None:
    device = distributed.setup(config["n_gpu"])
    try:
        evaluate_checkpoint(config, device)
    finally:
        distributed.cleanup()


def evaluate_checkpoint(config: ConfigParser, device: torch.device) -> None:
    """Evaluate on the test split; under torchrun each process takes a shard of it."""
    logger = logging.getLogger("test")

    data_loader = config.init_obj(
        "data_loader", module_data, shuffle=False, validation_split=0.0, training=False
    )
    model = config.init_obj("arch", module_arch)
    load_weights(model, load_checkpoint(config.resume)["state_dict"], str(config.resume))
    model.to(device)
    logger.info(model)

    criterion = config.init_ftn("loss", module_loss)
    tracker = MetricTracker(config.init_metrics(module_metric)).to(device)
    figures = module_figures.Figures()  # under DDP: drawn from the main process's shard
    results = evaluate(model, data_loader, criterion, tracker, device, observe=figures.update)

    if not distributed.is_main():
        return
    for line in result_lines(results):
        logger.info(line)
    path = config.resume.parent / "test_metrics.json"
    write_json(results, path)
    logger.info(f"Saved test metrics: {path}")
    for name, figure in figures.draw().items():
        path = config.resume.parent / f"test_{name}.png"
        figure.savefig(path, dpi=100)
        logger.info(f"Saved figure: {path}")


def cli(argv: list[str] | None = None) -> None:
    """The command line: ``argv`` defaults to ``sys.argv[1:]``."""
    parser = argparse.ArgumentParser(description="Evaluate a checkpoint on the test split.")
    parser.add_argument(
        "-c",
        "--config",
        default=None,
        help="config file whose values replace the checkpoint's (optional)",
    )
    parser.add_argument(
        "-r",
        "--resume",
        required=True,
        help="checkpoint to evaluate, or a run folder (its newest checkpoint)",
    )
    parser.add_argument(
        "-d",
        "--device",
        default=None,
        help="indices of GPUs to use, e.g. 2,3 (sets CUDA_VISIBLE_DEVICES)",
    )
    run_cli(parser, main, argv=argv)


if __name__ == "__main__":
    cli()
