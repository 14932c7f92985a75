"""Train a model: ``python train.py -c config.json [KEY.PATH=VALUE ...]``."""

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from itertools import cycle, islice

import torch

from logger import ExperimentWriter, setup_logging
from parse_config import ConfigParser, cli_parser, run_cli
from utils import distributed
from utils.checkpoint import load_weights, read_weights
from utils.util import seed_everything

# Flags for values changed often; any other value: KEY.PATH=VALUE (see --help).
FLAGS = {
    "optimizer.args.lr": ("--lr", "--learning_rate"),
    "data_loader.args.batch_size": ("--bs", "--batch_size"),
}


def main(config: ConfigParser) -> None:
    """Build what the config names, then train; nothing is written before it all checks out."""
    if not torch.distributed.is_torchelastic_launched():  # torchrun's, or launch()'s
        processes = distributed.processes_to_launch(config["n_gpu"], torch.cuda.device_count())
        if processes > 1:  # n_gpu > 1: one DDP process per GPU, each running this script
            distributed.launch(processes, __file__, config.argv)
            return
    args = config.cli_args = config.cli_args or parser().parse_args([])
    torch.autograd.set_detect_anomaly(args.detect_anomaly)
    with distributed.session(config["n_gpu"]) as device:
        (fast_dev_run if args.fast_dev_run else train)(config, device)


def train(config: ConfigParser, device: torch.device, on_epoch: Callable | None = None) -> None:
    """Train as the config says; ``on_epoch(results)`` sees every epoch, True stops after it."""
    profiling = config.cli_args.profile and not config.cli_args.fast_dev_run
    if profiling:  # a short run: 5 optimizer steps, the last 3 recorded
        config["trainer"].update(epochs=1, len_epoch=5 * config["trainer"]["grad_accum_steps"])
    trainer = build_trainer(config, device)
    trainer.on_epoch = on_epoch
    if config.resume is not None:
        trainer.resume(config.resume)
    if not profiling:
        return trainer.train()
    schedule = torch.profiler.schedule(wait=1, warmup=1, active=3, repeat=1)
    with torch.profiler.profile(schedule=schedule) as profile:
        trainer.optimizer.register_step_post_hook(lambda *_: profile.step())
        trainer.train()
    path = config.log_dir / f"profile-rank{distributed.rank()}.pt.trace.json"
    profile.export_chrome_trace(str(path))
    costliest = f"self_{'device' if device.type == 'cuda' else 'cpu'}_time_total"
    table = profile.key_averages().table(sort_by=costliest, row_limit=15)
    logging.getLogger("profile").info(f"{table}\nTrace (open it in Perfetto): {path}")


def fast_dev_run(config: ConfigParser, device: torch.device) -> None:
    """Every stage on 2 batches, in a temporary folder removed afterwards; no logger run."""
    from test import evaluate_checkpoint  # the project's test.py

    logger, start = logging.getLogger("fast-dev-run"), time.perf_counter()

    def lap(stage: str) -> None:
        logger.info(f"fast-dev-run: {stage}: {time.perf_counter() - start:.2f} s")

    with tempfile.TemporaryDirectory() as own:
        config.resume = None  # a new run, even with -r (whose config it keeps)
        folder = distributed.broadcast(own)  # the main process's, under DDP
        config["trainer"].update(save_dir=folder, epochs=2, len_epoch=2, save_period=1)
        for epoch in (1, 2):  # a new trainer each; epoch 2 resumes epoch 1's checkpoint
            train(config, device, on_epoch=lambda log: True)  # stops after one epoch
            config.resume = config.save_dir / f"checkpoint-epoch{epoch}.pth"
            resumed = "reloaded it in a new trainer, resumed, " if epoch == 2 else ""
            lap(f"epoch {epoch}: {resumed}trained 2 batches, validated 2, saved a checkpoint")
        evaluate_checkpoint(config, device, batches=2)
        lap("evaluated it like test.py on 2 test batches")
        distributed.broadcast(None)  # every process is done with the folder before it goes
    setup_logging(None, logging.getLogger().level)  # the temporary info.log is gone
    logger.info(f"fast-dev-run passed in {time.perf_counter() - start:.2f} s; nothing was kept")


def build_trainer(config: ConfigParser, device: torch.device):  # -> trainer.Trainer
    """Everything the config names, with --init-from, trainer.freeze and --overfit-batches."""
    from trainer import Trainer, freeze  # and what they need: not for --help

    args, settings = config.cli_args, config["trainer"]
    if args.overfit_batches:
        settings["len_epoch"] = settings["len_epoch"] or args.overfit_batches
    seed_everything(config["seed"])
    data_loader = config.init_obj("data_loader")
    model = config.init_model(data_loader.class_names, config.resume is not None)
    if args.init_from:
        load_weights(model, read_weights(args.init_from), args.init_from, settings["init_strict"])
    freeze(model, settings["freeze"])
    logging.getLogger("train").info(model)
    trainer = Trainer(model.to(device), config, data_loader)
    if args.overfit_batches:  # the same fixed batches, for training and validation
        trainer.valid_data_loader = list(islice(data_loader, args.overfit_batches))
        trainer.data_loader = cycle(trainer.valid_data_loader)
    if args.fast_dev_run:  # 2 validation batches, no logger run
        trainer.valid_data_loader = list(islice(trainer.valid_data_loader or [], 2)) or None
        trainer.create_writer = lambda config: ExperimentWriter()
    return trainer


def parser() -> argparse.ArgumentParser:
    parser = cli_parser("Train a model from a JSON config.")
    for target, flags in FLAGS.items():
        parser.add_argument(*flags, dest=target, metavar="VALUE", help=f"sets {target}")
    # debug runs and fine-tuning (docs/controls.md)
    parser.add_argument("--fast-dev-run", action="store_true", help="every stage on 2 batches")
    parser.add_argument("--overfit-batches", type=int, metavar="N", help="train on N fixed batches")
    parser.add_argument("--profile", action="store_true", help="5 steps under torch.profiler")
    parser.add_argument("--detect-anomaly", action="store_true", help="a NaN names its operation")
    parser.add_argument("--init-from", metavar="CHECKPOINT", help="start from its weights")
    return parser


def cli(argv: list[str] | None = None) -> None:
    run_cli(parser(), main, argv)


if __name__ == "__main__":
    cli()
