"""Train a model: ``python train.py -c config.json [KEY.PATH=VALUE ...]``."""

import inspect
import logging
from collections.abc import Callable

import torch

from model.figures import Figures
from parse_config import ConfigParser, cli_parser, run_cli
from trainer import Trainer
from trainer.trainer import steps_per_epoch
from utils import distributed
from utils.util import seed_everything

# Flags for values changed often; any other value: KEY.PATH=VALUE (see --help).
FLAGS = {
    "optimizer.args.lr": ("--lr", "--learning_rate"),
    "data_loader.args.batch_size": ("--bs", "--batch_size"),
}


def main(config: ConfigParser) -> None:
    """Build what the config names, then train; nothing is written before it all checks out."""
    if not distributed.launched_by_torchrun():
        processes = distributed.processes_to_launch(config["n_gpu"], torch.cuda.device_count())
        if processes > 1:  # n_gpu > 1: one DDP process per GPU, each running this script
            distributed.launch(processes, __file__, config.argv)
            return
    with distributed.session(config["n_gpu"]) as device:
        train(config, device)


def train(
    config: ConfigParser,
    device: torch.device,
    on_epoch: Callable[[dict[str, float]], bool] | None = None,
) -> None:
    """Train as the config says; ``on_epoch(results)`` sees every epoch, True stops after it."""
    seed_everything(config["seed"])
    data_loader = config.init_obj("data_loader")
    model = config.init_obj("arch").to(device)
    logging.getLogger("train").info(model)
    optimizer = config.init_obj("optimizer", [p for p in model.parameters() if p.requires_grad])
    batches = config["trainer"]["len_epoch"] or len(data_loader)
    steps = steps_per_epoch(batches, config["trainer"]["grad_accum_steps"])
    trainer = Trainer(
        model,
        config.init_ftn("loss"),
        config.init_metrics(),
        optimizer,
        config=config,
        data_loader=data_loader,
        valid_data_loader=data_loader.split_validation(),
        lr_scheduler=build_lr_scheduler(config, optimizer, steps),
        figures=Figures,
    )
    trainer.on_epoch = on_epoch
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
    if config["lr_scheduler"]["interval"] == "step":
        if "total_steps" in inspect.signature(config.factory("lr_scheduler")).parameters:
            length["total_steps"] = config["trainer"]["epochs"] * steps_per_epoch
    return config.init_obj("lr_scheduler", optimizer, **length)


def cli(argv: list[str] | None = None) -> None:
    """The command line: ``argv`` defaults to ``sys.argv[1:]``."""
    parser = cli_parser("Train a model from a JSON config.")
    for target, flags in FLAGS.items():
        parser.add_argument(*flags, dest=target, metavar="VALUE", help=f"sets {target}")
    run_cli(parser, main, argv)


if __name__ == "__main__":
    cli()
