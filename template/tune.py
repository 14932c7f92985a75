"""Search hyperparameters with Optuna, or train one config over seeds or folds:
``python tune.py [-c config.json] [--trials N] [--workers W] [--seeds K | --folds K]``.
Each trial is a train.py run in its own run folder. The study lives in saved/tune/STUDY/ (or at
``tune.storage``): the same command continues it, and a dead worker's trial is run again."""

import copy
import csv
import os
import socket
import statistics
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import TrialState
from sqlalchemy.exc import SQLAlchemyError

import train
from parse_config import ConfigParser, cli_parser, run_cli, set_by_path
from utils import distributed
from utils.util import InputError, TrainingInterrupted, atomic_open, write_json

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # not ours
MAX_GRID = 10_000  # --seeds, --folds
LIVE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # which process runs a trial
SAMPLERS = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}
# queues a failed trial's values again, as a new trial (``retry_of`` in trials.csv)
retry = optuna.storages.RetryHeartbeatStaleTrialCallback()


class TrialConfig(ConfigParser):
    """A plain train.py run whose run folder (and logger run) is named after the trial."""

    def __init__(self, config: dict[str, Any], run_name: str):
        super().__init__(config)
        self.run_name = run_name
        self.cli_args = train.parser().parse_args([])

    def new_run_dir(self) -> Path:
        path = Path(self["trainer"]["save_dir"]) / "models" / self["name"] / self.run_name
        path.mkdir(parents=True, exist_ok=True)
        return path


class Surplus(Exception):
    """Two workers started a trial at once beyond ``n_trials``: one is failed, unrun."""


def main(config: ConfigParser) -> None:
    """Check everything, run the trials (in ``--workers`` processes), then write the results."""
    args, base = config.cli_args, config.config
    if "tune" not in base:  # train.py needs no tune section: only tune.py asks for it
        raise InputError("tune: missing in the config; add it (see config.json)")
    tune = base["tune"]
    name, space = args.study or base["name"], tune["params"]
    grid = args.seeds or args.folds  # a grid over seeds or validation folds, never pruned
    if grid:
        key, first = ("seed", base["seed"]) if args.seeds else ("fold", 0)
        if grid > MAX_GRID:  # each is a whole training run: a typo, not a plan
            raise InputError(f"--{key}s {grid}: at most {MAX_GRID} runs; pass a smaller number")
        name = f"{name}-{key}s{grid}"
        space = {key: {"type": "categorical", "choices": list(range(first, first + grid))}}

    def trial_config(params: dict[str, Any]) -> dict[str, Any]:
        """The config with a trial's values applied like ``KEY.PATH=VALUE`` overrides."""
        trial = copy.deepcopy(base)
        for key, value in params.items():
            if key == "fold":
                trial["data_loader"]["args"]["validation_split"] = [value, grid]
            else:
                set_by_path(trial, key, value)
        return trial

    for key, bounds in space.items():  # every bound and choice must make a valid config
        for value in bounds.get("choices") or [bounds["low"], bounds["high"]]:
            try:
                ConfigParser(trial_config({key: value}))
            except InputError as err:
                raise InputError(f"tune.params: {err}") from None
    metric = tune["metric"] or base["trainer"]["monitor"]
    logged = ["loss", *base["metrics"]]
    if args.folds or base["data_loader"]["args"].get("validation_split"):
        logged += [f"val_{key}" for key in logged]
    if (metric_name := metric.partition(" ")[2]) not in logged:  # also trainer.monitor "off"
        choices = ", ".join(logged)
        raise InputError(
            f"tune.metric: {metric_name or metric!r} is never logged; choose one of {choices}"
        )
    if args.workers > len(devices()):
        kind = "GPU" if torch.cuda.is_available() else "CPU core"
        raise InputError(f"--workers {args.workers}: this machine has {len(devices())} {kind}(s)")

    n_trials = grid or args.trials or tune["n_trials"]

    def objective(trial: optuna.Trial) -> float:
        """Train the trial's config, reporting the metric after every epoch: the best value."""
        trial.set_user_attr("worker", WORKER)
        live = sorted(t.number for t in study.get_trials(deepcopy=False, states=LIVE))
        if live.index(trial.number) >= n_trials:
            raise Surplus(f"trial {trial.number} is one too many")
        config = trial_config({key: suggest(trial, key, bounds) for key, bounds in space.items()})
        config["n_gpu"] = min(config["n_gpu"], 1)  # one device per trial (and per worker)
        parsed = TrialConfig(config, f"{study.study_name}-trial{trial.number:04d}")
        values, pruned = [], False

        def on_epoch(log: dict[str, float]) -> bool:
            nonlocal pruned
            values.append(log[metric_name])
            trial.report(log[metric_name], log["epoch"])
            pruned = trial.should_prune()
            return pruned

        with distributed.session(config["n_gpu"]) as device:
            try:
                train.train(parsed, device, on_epoch)
            except TrainingInterrupted:  # SIGINT or SIGTERM: fails the trial, to be run again
                retry(study, study.get_trials(deepcopy=False)[trial.number])
                raise
        trial.set_user_attr("run", str(parsed.save_dir))
        if pruned:
            raise optuna.TrialPruned(f"pruned after epoch {len(values)}")
        return max(values) if metric.startswith("max") else min(values)

    folder = Path(base["trainer"]["save_dir"]) / "tune" / name
    study = open_study(name, tune["storage"], folder, {"metric": metric, "space": space})
    for value in space[key]["choices"] if grid else ():  # the grid: queued trials, run in turn
        study.enqueue_trial({key: value}, skip_if_exists=True)
    if args.workers > 1:
        run_workers(args.workers, config.argv)
    else:
        study.pruner = {
            "median": optuna.pruners.MedianPruner(n_startup_trials=2),
            "hyperband": optuna.pruners.HyperbandPruner(max_resource=base["trainer"]["epochs"]),
            "none": optuna.pruners.NopPruner(),
        }["none" if grid else tune["pruner"]]
        run_trials(study, objective, SAMPLERS[tune["sampler"]], base["seed"], n_trials)
    if "TUNE_WORKER" not in os.environ:  # the workers' parent writes the results, once
        report(study, folder, trial_config, grid)


def open_study(name: str, url: str | None, folder: Path, search: dict) -> optuna.Study:
    """The study ``name``, created if new; an existing one must search the same space."""
    if url is not None:  # a worker on another machine that stops beating fails its trial, retried
        try:
            storage = optuna.storages.RDBStorage(
                url, heartbeat_interval=60, grace_period=180, heartbeat_stale_trial_callback=retry
            )
        except (ImportError, ValueError, SQLAlchemyError) as err:  # no driver, bad URL, no server
            reason = (str(err).strip() or type(err).__name__).splitlines()[0][:200]
            raise InputError(f"tune.storage: cannot open {url} ({reason}); fix the URL") from None
    folder.mkdir(parents=True, exist_ok=True)  # the journal, if no database, and the results
    if url is None:
        backend = optuna.storages.journal.JournalFileBackend(str(folder / "journal.log"))
        storage = optuna.storages.JournalStorage(backend)
    try:  # loading writes nothing
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        direction = "maximize" if search["metric"].startswith("max") else "minimize"
        study = optuna.create_study(
            storage=storage, study_name=name, direction=direction, load_if_exists=True
        )
        study.set_user_attr("search", search)
    if (old := study.user_attrs.get("search", search)) != search:
        what = "metric" if old["metric"] != search["metric"] else "search space"
        found = repr(old["metric"]) if what == "metric" else old["space"]
        raise InputError(f"study {name!r} exists with {what} {found}; use another --study name")
    return study


def devices() -> list[str]:
    """The GPUs, or else the CPU cores, this process may run on."""
    if torch.cuda.is_available():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        return visible.split(",") if visible else list(map(str, range(torch.cuda.device_count())))
    linux = hasattr(os, "sched_getaffinity")
    return list(map(str, sorted(os.sched_getaffinity(0) if linux else range(os.cpu_count() or 1))))


def run_workers(n_workers: int, argv: list[str]) -> None:
    """``n_workers`` processes on the study, each on its own GPU or its share of the CPU cores."""
    found, workers = devices(), []
    for i in range(n_workers):
        env = {**os.environ, "TUNE_WORKER": str(i)}
        if torch.cuda.is_available():
            env["CUDA_VISIBLE_DEVICES"] = found[i]
        else:
            share = found[i * len(found) // n_workers : (i + 1) * len(found) // n_workers]
            env.update(TUNE_CPUS=",".join(share), OMP_NUM_THREADS=str(len(share)))
        command = [sys.executable, __file__, *argv, "--workers", "1"]
        workers.append(subprocess.Popen(command, env=env))
    if failed := [i for i, worker in enumerate(workers) if worker.wait() != 0]:
        raise InputError(f"worker(s) {failed} failed (see above); run the same command to go on")


def suggest(trial: optuna.Trial, key: str, bounds: dict[str, Any]) -> Any:
    if bounds["type"] == "categorical":
        return trial.suggest_categorical(key, bounds["choices"])
    suggest_number = trial.suggest_float if bounds["type"] == "float" else trial.suggest_int
    return suggest_number(key, bounds["low"], bounds["high"], log=bounds.get("log", False))


def run_trials(
    study: optuna.Study, objective: Callable, sampler: Callable, seed: int, n_trials: int
) -> None:
    """Run trials until ``n_trials`` are finished or running, counting every worker's."""
    if (share := os.environ.get("TUNE_CPUS")) and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, map(int, share.split(",")))  # a worker of --workers on the CPU
    fail_dead_trials(study)
    trials = study.get_trials(deepcopy=False)
    if sum(t.state in LIVE for t in trials) < n_trials:
        # seeded anew: a continued study, or another worker, draws other values
        worker = int(os.environ.get("TUNE_WORKER", 0))
        study.sampler = sampler(seed=seed + 7919 * len(trials) + worker)
        stop = optuna.study.MaxTrialsCallback(n_trials, states=LIVE)
        study.optimize(objective, callbacks=[fail_dead_trials, stop], catch=(Surplus,))


def fail_dead_trials(study: optuna.Study, _: optuna.trial.FrozenTrial | None = None) -> None:
    """Mark failed, and queue again, the running trials of dead processes of this machine."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        host, _, pid = trial.user_attrs.get("worker", "").partition(":")
        if host == socket.gethostname() and not alive(int(pid)):
            try:
                study.tell(trial.number, state=TrialState.FAIL)
            except RuntimeError:  # another worker did it
                continue
            retry(study, trial)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def report(study: optuna.Study, folder: Path, trial_config: Callable, grid: int) -> None:
    """trials.csv, best_config.json and plots in ``folder``, and a table of the finished trials."""
    trials = study.get_trials(deepcopy=False)
    keys = sorted({key for t in trials for key in t.params})
    header = ["number", "state", "value", *keys, "seconds", "run", "worker", "retry_of"]
    with atomic_open(folder / "trials.csv") as handle:
        writer = csv.DictWriter(handle, header, extrasaction="ignore")
        writer.writeheader()
        for t in trials:
            row = {"number": t.number, "state": t.state.name, "value": t.value, **t.params}
            row["seconds"] = t.duration and t.duration.total_seconds()
            writer.writerow({**row, **t.user_attrs, "retry_of": t.system_attrs.get("failed_trial")})
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    best_first = not grid and study.direction == optuna.study.StudyDirection.MAXIMIZE
    rows = sorted(done, key=lambda t: t.number if grid else t.value, reverse=best_first)
    metric = study.user_attrs["search"]["metric"].split()[1]
    width = max(map(len, [metric, *keys]))
    print(f"{'trial':>5}  " + "  ".join(f"{k:>{width}}" for k in [metric, *keys]))
    for t in rows[: None if grid else 10]:
        values = [f"{t.params[k]!s:>{width}}" for k in keys]
        print(f"{t.number:5d}  {t.value:{width}.6g}  " + "  ".join(values))
    states = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    print(", ".join(f"{n} {s}" for s, n in states.items() if n), f"trials in {folder}")
    if grid and len(done) > 1:
        values = [t.value for t in done]
        mean, std = statistics.mean(values), statistics.stdev(values)
        print(f"{metric}: {mean:.6g} ± {std:.6g} (mean ± std of {len(done)} runs)")
    elif done and not grid:
        write_json(trial_config(study.best_trial.params), folder / "best_config.json")
        plot(study, folder)


def plot(study: optuna.Study, folder: Path) -> None:
    """Optuna's optimisation history and parameter importances, as PNG files."""
    from optuna.visualization import matplotlib as plots

    axes = plots.plot_optimization_history(study)
    axes.figure.savefig(folder / "history.png", bbox_inches="tight")
    if study.best_trial.params and len(study.get_trials(states=(TrialState.COMPLETE,))) > 1:
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
        axes = plots.plot_param_importances(study, evaluator=evaluator)
        axes.figure.savefig(folder / "importances.png", bbox_inches="tight")


def cli(argv: list[str] | None = None) -> None:
    parser = cli_parser("Search hyperparameters (the config's tune section), or repeat a config.")
    parser.add_argument("--trials", type=positive, metavar="N", help="default: tune.n_trials")
    parser.add_argument("--workers", type=positive, default=1, metavar="W", help="one per device")
    parser.add_argument("--study", metavar="NAME", help="study name (default: the config's name)")
    repeat = parser.add_mutually_exclusive_group()
    repeat.add_argument("--seeds", type=positive, metavar="K", help="train with K seeds instead")
    repeat.add_argument("--folds", type=positive, metavar="K", help="K-fold cross-validation")
    run_cli(parser, main, argv)


def positive(text: str) -> int:
    """An integer >= 1; argparse reports anything else as an "invalid positive value"."""
    if int(text) < 1:
        raise ValueError(text)
    return int(text)


if __name__ == "__main__":
    cli()
