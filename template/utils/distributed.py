"""DDP: processes from torchrun, or from train.py for n_gpu > 1; each helper works in one too."""

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Only the main process prints progress and writes logs, checkpoints and metrics files."""
    return rank() == 0


@contextmanager
def session(n_gpu: int) -> Iterator[torch.device]:
    """This process's device; under torchrun, joined to the process group until the end."""
    use_gpu = n_gpu > 0 and torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if n_gpu > 0 and not use_gpu and local_rank == 0:
        logging.getLogger("device").warning(f"n_gpu is {n_gpu} but there is no GPU: using the CPU")
    device = torch.device(f"cuda:{local_rank}" if use_gpu else "cpu")
    if not dist.is_torchelastic_launched():
        yield device
        return
    if use_gpu:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if use_gpu else "gloo")
    if rank() != 0:  # the main process speaks for all
        logging.getLogger().setLevel(logging.WARNING)
    try:
        yield device
    finally:
        dist.destroy_process_group()


def processes_to_launch(n_gpu: int, available: int) -> int:
    """How many processes train.py starts itself: one per GPU used, 1 means no launch."""
    if n_gpu > available > 0:
        logging.getLogger("device").warning(f"n_gpu is {n_gpu}, only {available} GPU(s) available")
    return max(1, min(n_gpu, available))


def launch(n: int, script: str, argv: list[str]) -> None:
    """Run ``python script argv`` in ``n`` processes: ``torchrun --standalone``, called here."""
    # imported here: only the launching process needs the launcher, which takes a while to import
    from torch.distributed.run import get_args_parser, run

    run(get_args_parser().parse_args(["--standalone", f"--nproc-per-node={n}", script, *argv]))


def broadcast(value: Any) -> Any:
    """The main process's ``value``, in every process."""
    box = [value]
    if is_distributed():
        dist.broadcast_object_list(box)
    return box[0]


def reduce(value: torch.Tensor, op: str) -> torch.Tensor:
    """``'mean'`` or ``'max'`` of every process's ``value`` (on this process's device)."""
    if not is_distributed():
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return value / world_size() if op == "mean" else value
