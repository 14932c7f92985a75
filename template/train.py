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
from logger import create_writer
from parse_config import CliOption, ConfigParser, run_cli
from trainer import Trainer
from utils import prepare_device, seed_everything

# Flags for values changed often; any other value: KEY.PATH=VALUE (see --help).
CLI_OPTIONS = [
    CliOption(("--lr", "--learning_rate"), float, "optimizer.args.lr"),
    CliOption(("--bs", "--batch_size"), int, "data_loader.args.batch_size"),
]


def main(config: ConfigParser) -> None:
    config.start_run()
    logger = logging.getLogger("train")
    seed_everything(config["seed"])
    device = prepare_device(config["n_gpu"])

    data_loader = config.init_obj("data_loader", module_data)
    valid_data_loader = data_loader.split_validation()

    model = config.init_obj("arch", module_arch).to(device)
    logger.info(model)

    criterion = config.init_ftn("loss", module_loss)
    metrics = config.init_metrics(module_metric)
    trainable_params = [p for p in model.parameters() if p.requires_grad]
    optimizer = config.init_obj("optimizer", torch.optim, trainable_params)
    len_epoch = config["trainer"].get("len_epoch")
    lr_scheduler = build_lr_scheduler(config, optimizer, len_epoch or len(data_loader))

    writer = create_writer(config)
    writer.log_config(config.config)
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
        writer=writer,
        figures=module_figures.Figures,
    )
    if config.resume is not None:
        trainer.resume(config.resume)
    trainer.train()


def build_lr_scheduler(
    config: ConfigParser, optimizer: torch.optim.Optimizer, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The configured scheduler; one stepped per batch (OneCycleLR) is told the run's length."""
    scheduler = config.resolve("lr_scheduler", torch.optim.lr_scheduler)
    length = {}
    if config["lr_scheduler"].get("interval") == "step":
        if "total_steps" in inspect.signature(scheduler).parameters:
            length["total_steps"] = config["trainer"]["epochs"] * steps_per_epoch
    return config.init_obj("lr_scheduler", torch.optim.lr_scheduler, optimizer, **length)


if __name__ == "__main__":
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
    run_cli(parser, main, CLI_OPTIONS)
