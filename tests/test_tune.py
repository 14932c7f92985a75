"""tune.py of a generated project on a 1,000-image subset of the real MNIST: a pruned sweep and its
results, kill -9 and the same command again, two workers on one study (a journal file, and a
throwaway PostgreSQL server), seeds and folds, and each bad input as one error line."""

import csv
import glob
import gzip
import json
import os
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import python, run, shared_group

N_TRAIN, N_TEST = 1000, 200
# 2 short epochs per trial: seconds each, and the median pruner can stop a trial after epoch 1
FAST = [
    "n_gpu=0",
    "trainer.epochs=2",
    "trainer.figure_period=0",
    "data_loader.args.batch_size=100",
    "data_loader.args.validation_split=200",
]
STUDY = "Mnist_MnistNet"
FINISHED = {"COMPLETE", "PRUNED"}
pytestmark = pytest.mark.slow  # every test runs trials


@pytest.fixture(scope="module")
def project(copie_session) -> Path:
    result = copie_session.copy(extra_answers={"n_gpu": 0})
    assert result.exit_code == 0, result.exception
    return result.project_dir


@pytest.fixture(scope="module")
def small_mnist(mnist_data, tmp_path_factory) -> Path:
    """The first images of the real MNIST files, in a folder of this test (shared/ stays as is)."""
    root = tmp_path_factory.mktemp("mnist")
    (root / "MNIST" / "raw").mkdir(parents=True)
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        for kind, header, size in (("images-idx3", 16, 784), ("labels-idx1", 8, 1)):
            name = f"MNIST/raw/{prefix}-{kind}-ubyte.gz"
            data = gzip.decompress((mnist_data / name).read_bytes())
            head = data[:4] + n.to_bytes(4, "big") + data[8:header]
            (root / name).write_bytes(gzip.compress(head + data[header : header + n * size]))
    return root


def tune_args(save_dir: Path, data: Path, *args: str) -> list[str]:
    return [
        "tune.py",
        *args,
        *FAST,
        f"trainer.save_dir={save_dir}",
        f"data_loader.args.data_dir={data}",
    ]


def tune(project: Path, save_dir: Path, data: Path, *args: str) -> subprocess.CompletedProcess:
    done = python(*tune_args(save_dir, data, *args), cwd=project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def trials(save_dir: Path, study: str = STUDY) -> list[dict[str, str]]:
    with open(save_dir / "tune" / study / "trials.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def trained_once(save_dir: Path, row: dict[str, str]) -> bool:
    """The trial's run folder holds one training run: its log shows epoch 1 once."""
    log = (save_dir / "log" / STUDY / Path(row["run"]).name / "info.log").read_text()
    return len(re.findall(r" - INFO -     epoch +: 1$", log, re.M)) == 1


def never_ran(trial: dict[str, str]) -> bool:
    """A trial that two workers started at once beyond n_trials is failed before it trains."""
    return trial.get("state", "FAIL") == "FAIL" and not trial.get("run")


@pytest.fixture(scope="module")
def sweep(project, small_mnist, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    save_dir = tmp_path_factory.mktemp("sweep") / "saved"
    return save_dir, tune(project, save_dir, small_mnist, "--trials", "6")


@shared_group["tune-sweep"]  # the tests of the one sweep
def test_sweep_prunes_and_writes_every_result(sweep, project, small_mnist):
    save_dir, done = sweep
    rows = trials(save_dir)
    assert len(rows) == 6 and {r["state"] for r in rows} == FINISHED
    assert all(trained_once(save_dir, r) for r in rows)
    folder = save_dir / "tune" / STUDY
    for plot in ("history.png", "importances.png"):
        assert (folder / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    best = max(complete, key=lambda r: float(r["value"]))
    config = json.loads((folder / "best_config.json").read_text())
    assert config["lr_scheduler"]["args"]["max_lr"] == float(best["lr_scheduler.args.max_lr"])
    assert config["optimizer"]["args"]["weight_decay"] == float(best["optimizer.args.weight_decay"])
    # the summary table: the complete trials, best first, with their values
    table = [line.split() for line in done.stdout.splitlines() if line[:5].strip().isdigit()]
    assert [int(t[0]) for t in table] == [
        int(r["number"]) for r in sorted(complete, key=lambda r: -float(r["value"]))
    ]
    # best_config.json is a complete config: train.py runs it as it is
    trained = python("train.py", "-c", str(folder / "best_config.json"), cwd=project)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert len(list((save_dir / "models" / STUDY).iterdir())) == 7


def test_kill_9_then_the_same_command_finishes_exactly_n_trials(project, small_mnist, tmp_path):
    save_dir = tmp_path / "saved"
    command = [sys.executable, *tune_args(save_dir, small_mnist, "--trials", "6")]
    sweep = subprocess.Popen(
        command, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    started = save_dir / "models" / STUDY / f"{STUDY}-trial0002" / "config.json"
    deadline = time.monotonic() + 300
    while not started.exists() and sweep.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    # at once: trial 2 writes its config before it loads data and trains, which takes a fast
    # machine well under a second (a 1 s wait there let trial 2 end before the kill)
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    tune(project, save_dir, small_mnist, "--trials", "6")
    rows = trials(save_dir)
    finished = [r for r in rows if r["state"] in FINISHED]
    assert len(finished) == 6
    (killed,) = [r for r in rows if r["state"] == "FAIL"]
    assert killed["number"] == "2"
    (retried,) = [r for r in rows if r["retry_of"] == "2"]
    assert retried["state"] in FINISHED
    params = ("lr_scheduler.args.max_lr", "optimizer.args.weight_decay")
    assert [retried[p] for p in params] == [killed[p] for p in params]
    assert all(trained_once(save_dir, r) for r in finished)


def test_two_workers_share_one_study(project, small_mnist, tmp_path):
    save_dir = tmp_path / "saved"
    tune(project, save_dir, small_mnist, "--trials", "6", "--workers", "2")
    rows = trials(save_dir)
    finished = [r for r in rows if r["state"] in FINISHED]
    assert len(finished) == 6 and len({r["worker"] for r in finished}) == 2
    assert all(never_ran(r) for r in rows if r not in finished)
    assert len({r["run"] for r in finished}) == 6 and all(
        trained_once(save_dir, r) for r in finished
    )


@pytest.mark.parametrize("option", ["--seeds", "--folds"])
def test_seeds_and_folds_give_their_table(project, small_mnist, tmp_path, option):
    save_dir = tmp_path / "saved"
    done = tune(project, save_dir, small_mnist, option, "3")
    key = option[2:-1]
    rows = trials(save_dir, f"{STUDY}-{key}s3")
    assert [r["state"] for r in rows] == ["COMPLETE"] * 3
    first = 123 if key == "seed" else 0  # the config's seed
    assert sorted(int(r[key]) for r in rows) == [first, first + 1, first + 2]
    table = {
        int(t[2]): float(t[1])
        for t in map(str.split, done.stdout.splitlines())
        if len(t) == 3 and t[0].isdigit()
    }
    values = {int(r[key]): float(r["value"]) for r in rows}
    assert table == pytest.approx(values, abs=1e-6)
    mean, std = statistics.mean(values.values()), statistics.stdev(values.values())
    assert f"val_accuracy: {mean:.6g} ± {std:.6g} (mean ± std of 3 runs)" in done.stdout
    if key == "fold":  # each run validated on its own third of the training split
        runs = json.dumps([str(Path(r["run"]) / "config.json") for r in rows])
        held_out = python("-c", HELD_OUT.replace("RUNS", runs), cwd=project)
        assert held_out.returncode == 0, held_out.stderr[-3000:]
        folds = [set(part) for part in json.loads(held_out.stdout.splitlines()[-1])]
        assert sorted(map(len, folds)) == [333, 333, 334]
        assert set().union(*folds) == set(range(N_TRAIN)) and sum(map(len, folds)) == N_TRAIN


HELD_OUT = """
import json
from parse_config import ConfigParser
from utils.util import read_json
loaders = [ConfigParser(read_json(path)).init_obj("data_loader") for path in RUNS]
print(json.dumps([loader.valid_idx.tolist() for loader in loaders]))
"""


def files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def searching(key: str, **bounds) -> str:
    """The override that makes ``tune.params`` a float range of one key."""
    return "tune.params=" + json.dumps({key: {"type": "float", **bounds}})


@shared_group["tune-sweep"]
def test_bad_input_is_one_error_line_and_writes_nothing(sweep, project, small_mnist, tmp_path):
    swept, _ = sweep
    fresh = tmp_path / "saved"
    lr = searching("optimizer.args.lr", low=0.001, high=0.1, log=True)
    cases = {
        "params key not in the config": (
            fresh,
            [searching("optimizer.args.lrr", low=0.001, high=0.1)],
            "unknown config key optimizer.args.lrr; did you mean optimizer.args.lr?",
        ),
        "low above high": (
            fresh,
            [searching("optimizer.args.lr", low=0.1, high=0.01)],
            "tune.params.optimizer.args.lr: low 0.1 is above high 0.01",
        ),
        "log range from 0": (
            fresh,
            [searching("optimizer.args.lr", low=0, high=0.1, log=True)],
            "tune.params.optimizer.args.lr.low: must be > 0 in a log range, got 0",
        ),
        "metric never logged": (
            fresh,
            ["tune.metric=max val_acc"],
            "tune.metric: 'val_acc' is never logged; choose one of loss, accuracy",
        ),
        "study of another direction": (
            swept,
            ["tune.metric=min val_loss"],
            f"study '{STUDY}' exists with metric 'max val_accuracy'; use another --study name",
        ),
        "study of another space": (swept, [lr], f"study '{STUDY}' exists with search space"),
        "a grid too large to build": (  # hung building a list of 2**63 seeds
            fresh,
            ["--seeds", str(2**63)],
            f"--seeds {2**63}: at most 10000 runs; pass a smaller number",
        ),
        "a storage that cannot be opened": (  # a traceback, after making the study's folder
            fresh,
            ["tune.storage=nosuchdriver://x"],
            "tune.storage: cannot open nosuchdriver://x (",
        ),
        "more workers than cores": (
            fresh,
            ["--workers", str(len(os.sched_getaffinity(0)) + 1)],
            f"--workers {len(os.sched_getaffinity(0)) + 1}: this machine has",
        ),
    }
    before = files(swept)
    commands = [
        tune_args(save_dir, small_mnist, "--trials", "6", *args)
        for save_dir, args, _ in cases.values()
    ]
    done = python("-c", IN_ONE_PROCESS, json.dumps(commands), cwd=project)
    assert done.returncode == 0, done.stderr[-3000:]
    for case, (code, stderr) in zip(cases, json.loads(done.stdout.splitlines()[-1]), strict=True):
        assert (code, stderr.count("\n")) == (2, 1), (case, stderr[-2000:])
        assert stderr.startswith("error: ") and cases[case][2] in stderr, (case, stderr)
    assert not fresh.exists() and files(swept) == before


# `python tune.py ARGS` for each ARGS of the JSON list argv[1], all in this process (PyTorch is
# imported once, not once a case): the exit code and the standard error of each, as JSON
IN_ONE_PROCESS = r"""
import contextlib, io, json, runpy, sys
results = []
for args in json.loads(sys.argv[1]):
    sys.argv = args
    with contextlib.redirect_stderr(io.StringIO()) as stderr:
        try:
            runpy.run_path(sys.argv[0], run_name="__main__")
            code = 0
        except SystemExit as exit:
            code = exit.code
    results.append([code, stderr.getvalue()])
print(json.dumps(results))
"""


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
def postgres(tmp_path) -> str:
    """A throwaway PostgreSQL server on a loopback port, run as the ``postgres`` user when this
    is root (initdb refuses root); its URL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    if not Path(found[-1]).is_file():
        pytest.fail("PostgreSQL is missing: apt-get install postgresql (.ci/run does)")
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="tune-pg-"))
    as_user = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = root / "data"
    created = run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"], root
    )
    assert created.returncode == 0, created.stderr
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-w"]
    started = run([*pg_ctl, "-o", options, "-l", str(root / "log"), "start"], root)
    assert started.returncode == 0, started.stderr + (root / "log").read_text()
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        run([*pg_ctl, "-m", "immediate", "stop"], root)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_on_a_postgresql_study(project, small_mnist, tmp_path, postgres):
    import optuna

    save_dir = tmp_path / "saved"
    args = ["--trials", "4", "--workers", "2", f"tune.storage={postgres}"]
    tune(project, save_dir, small_mnist, *args)
    study = optuna.load_study(study_name=STUDY, storage=postgres)
    finished = [t for t in study.trials if t.state.name in FINISHED]
    assert len(finished) == 4 and len({t.user_attrs["worker"] for t in finished}) == 2
    assert all(never_ran(t.user_attrs) for t in study.trials if t not in finished)
    tune(project, save_dir, small_mnist, *args)  # the same command: nothing is left to run
    assert len(optuna.load_study(study_name=STUDY, storage=postgres).trials) == len(study.trials)
    assert len(trials(save_dir)) == len(study.trials)
