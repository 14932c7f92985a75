"""Train a model: ``python train.py -c config.json [KEY.PATH=VALUE ...]``."""

import argparse
import inspect
import logging

import torch

import data_loader.data_loaders as module_data
import model.figures as module_figures
import model.loss as module_loss
import model.metric as module_metric
import model.model as module_arch
from base.base_trainer import positive_int
from parse_config import CliOption, ConfigParser, run_cli
from trainer import Trainer
from trainer.trainer import steps_per_epoch
from utils import distributed, seed_everything

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
    device = distributed.setup(config["n_gpu"])
    try:
        train(config, device)
    finally:
        distributed.cleanup()


def train(config: ConfigParser, device: torch.device) -> None:
    logger = logging.getLogger("train")
    seed_everything(config["seed"])

    data_loader = config.init_obj("data_loader", module_data)
    valid_data_loader = data_loader.split_validation()

    model = config.init_obj("arch", module_arch).to(device)
    logger.info(model)

    criterion = config.init_ftn("loss", module_loss)
    metrics = config.init_metrics(module_metric)
    trainable_params = [p for p in model.parameters() if p.requires_grad]
    optimizer = config.init_obj("optimizer", torch.optim, trainable_params)
    len_epoch = config["trainer"].get("len_epoch")
    accum_steps = config["trainer"].get("grad_accum_steps", 1)
    steps = steps_per_epoch(len_epoch or len(data_loader), accum_steps)
    lr_scheduler = build_lr_scheduler(config, optimizer, steps)

    trainer = Trainer(
        model,
        criterion,
        metrics,
        optimizer,
        config=config,
        device=device,
        data_loader=data_loader,
        valid_data_loader=valid_data_loader,
        lr_scheduler=lr_scheduler,
        len_epoch=len_epoch,
        figures=module_figures.Figures,
    )
    if config.resume is not None:
        trainer.resume(config.resume)
    trainer.train()


def build_lr_scheduler(
    config: ConfigParser, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The configured scheduler; one stepped per optimizer step (OneCycleLR) gets the length."""
    scheduler = config.resolve("lr_scheduler", torch.optim.lr_scheduler)
    length = {}
    if config["lr_scheduler"].get("interval") == "step":
        if "total_steps" in inspect.signature(scheduler).parameters:
            epochs = positive_int(config["trainer"]["epochs"], "trainer.epochs")
            length["total_steps"] = epochs * steps_per_epoch
    return config.init_obj("lr_scheduler", torch.optim.lr_scheduler, optimizer, **length)


def cli(argv: list[str] | None = None) -> None:
    """The command line: ``argv`` defaults to ``sys.argv[1:]``."""
    parser = argparse.ArgumentParser(description="Train a model from a JSON config.")
    parser.add_argument(
        "-c",
        "--config",
        default=None,
        help="config file (default: config.json, or the checkpoint's with -r)",
    )
    parser.add_argument(
        "-r",
        "--resume",
        default=None,
        help="checkpoint to resume from, or a run folder (its newest checkpoint)",
    )
    parser.add_argument(
        "-d",
        "--device",
        default=None,
        help="indices of GPUs to use, e.g. 2,3 (sets CUDA_VISIBLE_DEVICES)",
    )
    run_cli(parser, main, CLI_OPTIONS, argv)


if __name__ == "__main__":
    cli()
