"""What TensorBoard shows of a run, read back with TensorBoard's own event reader."""

import numpy as np
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import epoch_results, log_dir
from tests.test_imports import import_everything
from tests.test_training import train_in_process

STEP_LR = {"type": "StepLR", "interval": "epoch", "warmup_steps": 0, "args": {"step_size": 1}}


def test_scalars_images_and_histograms_in_one_folder_across_a_resume(base_config: dict):
    base_config["lr_scheduler"] = STEP_LR
    run = train_in_process(base_config)
    base_config["trainer"]["epochs"] = 3
    train_in_process(base_config, resume=run / "checkpoint-epoch2.pth")
    events = EventAccumulator(str(log_dir(base_config, run)), size_guidance={"scalars": 0})
    events.Reload()
    printed = epoch_results(base_config, run)
    for name in ["loss", *base_config["metrics"]]:
        for mode, key in (("train", name), ("valid", f"val_{name}")):
            logged = {e.step: e.value for e in events.Scalars(f"{name}/{mode}")}
            # TensorBoard stores 32-bit floats
            assert logged == {e: float(np.float32(printed[e][key])) for e in (1, 2, 3)}
    steps = [e.step for e in events.Scalars("loss/train_step")]
    assert len(steps) >= 3 and sorted(steps) == sorted(set(steps))  # the resumed run went on
    tags = events.Tags()
    assert "valid/input" in tags["images"]
    weights = torch.load(run / "model_best.pth", weights_only=True)["state_dict"]
    assert tags["histograms"] and set(tags["histograms"]) <= set(weights)


def test_figures_are_logged_every_figure_period_and_after_the_last_epoch(base_config: dict):
    base_config["trainer"].update(epochs=3, figure_period=2)
    run = train_in_process(base_config)
    events = EventAccumulator(str(log_dir(base_config, run))).Reload()
    figures = set(events.Tags()["images"]) - {"valid/input"}
    assert figures, "no figure logged"
    for tag in figures:
        assert [e.step for e in events.Images(tag)] == [2, 3], tag
        assert events.Images(tag)[0].width >= 200


def test_importing_the_project_leaves_tensorboard_unloaded():
    """TensorBoard takes 0.1 s to import: only the process that logs loads it."""
    assert "torch.utils.tensorboard" not in import_everything()["modules"]
