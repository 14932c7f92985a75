"""Train a model: ``python train.py -c config.json [KEY.PATH=VALUE ...]``."""

import argparse
import inspect
import logging

import torch

from model.figures import Figures
from parse_config import CliOption, ConfigParser, run_cli
from trainer import Trainer
from trainer.trainer import steps_per_epoch
from utils import distributed
from utils.util import seed_everything

# Flags for values changed often; any other value: KEY.PATH=VALUE (see --help).
CLI_OPTIONS = [
    CliOption(("--lr", "--learning_rate"), float, "optimizer.args.lr"),
    CliOption(("--bs", "--batch_size"), int, "data_loader.args.batch_size"),
]


def main(config: ConfigParser) -> None:
    """Build what the config names, then train; nothing is written before it all checks out."""
    if not distributed.launched_by_torchrun():
        processes = distributed.processes_to_launch(config["n_gpu"], torch.cuda.device_count())
        if processes > 1:  # n_gpu > 1: one DDP process per GPU, each running this script
            distributed.launch(processes, __file__, config.argv)
            return
    with distributed.session(config["n_gpu"]) as device:
        train(config, device)


def train(config: ConfigParser, device: torch.device) -> None:
    seed_everything(config["seed"])
    data_loader = config.init_obj("data_loader")
    valid_data_loader = data_loader.split_validation()

    model = config.init_obj("arch").to(device)
    logging.getLogger("train").info(model)
    trainable_params = [p for p in model.parameters() if p.requires_grad]
    optimizer = config.init_obj("optimizer", trainable_params)
    batches = config["trainer"]["len_epoch"] or len(data_loader)
    steps = steps_per_epoch(batches, config["trainer"]["grad_accum_steps"])

    trainer = Trainer(
        model,
        config.init_ftn("loss"),
        config.init_metrics(),
        optimizer,
        config=config,
        device=device,
        data_loader=data_loader,
        valid_data_loader=valid_data_loader,
        lr_scheduler=build_lr_scheduler(config, optimizer, steps),
        figures=Figures,
    )
    if config.resume is not None:
        trainer.resume(config.resume)
    trainer.train()


def build_lr_scheduler(
    config: ConfigParser, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The configured scheduler, if any; one stepped per optimizer step that takes
    ``total_steps`` (OneCycleLR) gets the run's length."""
    if config["lr_scheduler"] is None:
        return None
    length = {}
    scheduler = getattr(torch.optim.lr_scheduler, config["lr_scheduler"]["type"])
    if config["lr_scheduler"]["interval"] == "step":
        if "total_steps" in inspect.signature(scheduler).parameters:
            length["total_steps"] = config["trainer"]["epochs"] * steps_per_epoch
    return config.init_obj("lr_scheduler", optimizer, **length)


def cli(argv: list[str] | None = None) -> None:
    """The command line: ``argv`` defaults to ``sys.argv[1:]``."""
    parser = argparse.ArgumentParser(description="Train a model from a JSON config.")
    parser.add_argument(
        "-c", "--config", help="config file (default: config.json, or the checkpoint's with -r)"
    )
    parser.add_argument(
        "-r", "--resume", help="checkpoint to resume from, or a run folder (its newest checkpoint)"
    )
    parser.add_argument(
        "-d", "--device", help="indices of GPUs to use, e.g. 2,3 (sets CUDA_VISIBLE_DEVICES)"
    )
    run_cli(parser, main, CLI_OPTIONS, argv)


if __name__ == "__main__":
    cli()
