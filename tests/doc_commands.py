"""Runs the shell commands the docs show, as a user would, with the few changes a test needs.

``DocShell.executed`` is the whole mapping from a documented command to the executed one:

- ``copier copy ... gh:OWNER/REPO DEST``: the source is this checkout, with ``--vcs-ref HEAD``
  (its working tree, uncommitted changes included) and ``--defaults`` (no prompts) added.
- ``pip ...``: runs in a throwaway virtual environment that sees this environment's packages, so it
  resolves offline and leaves this environment as it was; ``PIP_NO_INDEX=1`` (nothing is
  downloaded) and ``PIP_NO_BUILD_ISOLATION=0`` (the build backend, setuptools, is the installed
  one instead of a fresh download) are set in its environment. The command line is unchanged.
- ``python -m data_loader mnist DIR``: ``--mnist MNIST`` is appended (real MNIST files instead of
  a download); the commands after it keep the documented ``data_dir``.
- ``python train.py ...``: real MNIST from ``MNIST`` (unless an example folder
  was written) and one short epoch of ``TRAIN_SAMPLES`` are appended.
- ``python test.py ...``: ``data_loader.args.data_dir=MNIST`` is appended, with the same
  exception.

``MNIST`` is the shell's ``mnist`` folder: the tests give it the first images of the real MNIST
(tests/conftest.py ``mnist_subset``), all that one short epoch and a test split need.
- ``RUN_ID`` in an argument: the run folder that train.py made.
- ``pytest``: ``tests/test_config.py`` is appended (tests/test_generated_project.py runs the whole
  project suite, through the same ``pytest`` command of the project's CI workflow).
- ``cd DIR``: the commands after it run in DIR.

Any other command is refused: a new kind of command in the docs needs its line here.
"""

import json
import os
import shlex
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import REPO

TRAIN_SAMPLES = 2560  # one short epoch of the config's batches: far above chance, quick on a CPU
PROJECT_TESTS = ["tests/test_config.py"]


def command_lines(block: str) -> list[str]:
    """The commands of a shell block: one per line, continuation lines joined, comments and blank
    lines dropped."""
    lines, current = [], ""
    for line in block.splitlines():
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if shlex.split(current, comments=True):
            lines.append(current.strip())
        current = ""
    return lines


@dataclass
class Executed:
    documented: str
    argv: list[str]
    cwd: Path
    result: subprocess.CompletedProcess = field(repr=False)


class DocShell:
    """A shell session in ``cwd`` that runs documented commands through ``executed``, on the MNIST
    files in ``mnist``; ``pip`` installs into the throwaway environment ``venv``."""

    def __init__(self, cwd: Path, venv: Path, mnist: Path):
        self.cwd = cwd
        self.venv = venv
        self.mnist = mnist
        self.history: list[Executed] = []
        # emptied once an example image folder is written
        self.data_overrides = [f"data_loader.args.data_dir={mnist}"]
        make_venv(self.venv)
        path = os.pathsep.join([str(self.venv / "bin"), str(Path(sys.executable).parent)])
        self.env = {
            **os.environ,
            "PATH": f"{path}{os.pathsep}{os.environ.get('PATH', '')}",
            "VIRTUAL_ENV": str(self.venv),
            "PIP_NO_INDEX": "1",
            "PIP_NO_BUILD_ISOLATION": "0",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }

    def run_block(self, block: str, timeout: float = 600) -> list[Executed]:
        return [self.run(line, timeout) for line in command_lines(block)]

    def run(self, line: str, timeout: float = 600) -> Executed:
        """Run one documented command line; a failure is an AssertionError with its output."""
        argv = shlex.split(line, comments=True)
        if argv[0] == "cd":
            self.cwd = (self.cwd / argv[1]).resolve()
            assert self.cwd.is_dir(), f"{line}: no folder {self.cwd}"
            executed = Executed(line, argv, self.cwd, subprocess.CompletedProcess(argv, 0))
        else:
            argv = self.executed(argv)
            result = subprocess.run(
                argv, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=timeout
            )
            executed = Executed(line, argv, self.cwd, result)
            assert result.returncode == 0, (
                f"documented: {line}\nexecuted: {shlex.join(argv)}\nin {self.cwd}\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        self.history.append(executed)
        return executed

    def executed(self, argv: list[str]) -> list[str]:
        """The command that runs for the documented ``argv`` (see the module docstring)."""
        argv = [self.run_id(arg) if "RUN_ID" in arg else arg for arg in argv]
        tool, args = argv[0], argv[1:]
        if tool == "copier" and args[:1] == ["copy"]:
            args = [str(REPO) if arg.startswith("gh:") else arg for arg in args]
            args += [] if "--vcs-ref" in args else ["--vcs-ref", "HEAD"]
            args += [] if "--defaults" in args else ["--defaults"]
            return [tool, *args]
        if tool == "pip":
            return argv
        if tool == "python" and args[:3] == ["-m", "data_loader", "mnist"]:
            self.data_overrides = []
            return [*argv, "--mnist", str(self.mnist)]
        if tool == "python" and args[:1] == ["train.py"]:
            return [*argv, *self.data_overrides, *self.short_epoch()]
        if tool == "python" and args[:1] == ["test.py"]:
            return [*argv, *self.data_overrides]
        if tool == "pytest":
            return [*argv, *PROJECT_TESTS]
        raise AssertionError(f"no mapping for the documented command {shlex.join(argv)}")

    def short_epoch(self) -> list[str]:
        """One epoch of TRAIN_SAMPLES samples, in batches of the config.json here."""
        config = json.loads((self.cwd / "config.json").read_text())
        batches = TRAIN_SAMPLES // config["data_loader"]["args"]["batch_size"]
        return ["trainer.epochs=1", f"trainer.len_epoch={batches}"]

    def run_id(self, arg: str) -> str:
        """``arg`` with RUN_ID replaced by the one run folder under ``saved/models/NAME/``."""
        runs = [p for p in (self.cwd / "saved" / "models").glob("*/*") if p.is_dir()]
        assert len(runs) == 1, f"{arg}: expected one run folder, found {runs}"
        return arg.replace("RUN_ID", runs[0].name)


def make_venv(venv: Path) -> None:
    """A virtual environment that sees this one's packages (through a .pth file), with a ``pip``
    of its own that installs into it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "_parent_environment.pth").write_text("\n".join(sorted(ours)) + "\n")
    pip = venv / "bin" / "pip"
    pip.write_text(
        f"#!{python}\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n"
    )
    pip.chmod(0o755)
