"""The generated project's CI workflow, read back so that tests run exactly what its CI runs."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

WORKFLOW = Path(".github/workflows/ci.yml")


def workflow(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / WORKFLOW).read_text())


def ci_steps(project: Path) -> list[dict[str, Any]]:
    (job,) = workflow(project)["jobs"].values()
    return job["steps"]


def ci_step(project: Path, name: str) -> dict[str, Any]:
    (step,) = [step for step in ci_steps(project) if step.get("name") == name]
    return step


def run_ci_step(
    project: Path, name: str, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run a step's commands in ``project`` as GitHub does (bash -e), with this environment's
    tools (pytest, ruff) standing in for the ones CI installs; ``env`` adds variables."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", ci_step(project, name)["run"]],
        cwd=project,
        env={**os.environ, "PATH": path, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
