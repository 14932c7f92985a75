"""This project's task: its checkpoints and exported files say it, another task's are refused."""

TASK = "regression"
