"""Regression parts: rotated digits, the angle model, losses, exact metrics, figures."""

import json

import pytest
import torch

import model.metric as module_metric
from data_loader.data_loaders import RotatedMnistDataLoader, RotatedMnistDataset, rotate
from model.figures import Figures
from model.loss import mse_loss, smooth_l1_loss
from model.model import AngleNet
from tests.conftest import PROJECT
from utils.metric_tracker import MetricTracker


def test_positive_angles_rotate_counter_clockwise():
    image = torch.zeros(1, 1, 28, 28)
    image[0, 0, 13:15, 16:26] = 1.0  # a bar right of the centre
    assert torch.allclose(rotate(image, torch.tensor([0.0])), image, atol=1e-6)
    turned = rotate(image, torch.tensor([90.0]))[0, 0] > 0.5
    rows, columns = turned.nonzero(as_tuple=True)
    assert rows.max() < 13 and columns.min() >= 12 and columns.max() <= 15  # now above it


def test_angles_are_fixed_uniform_and_within_the_range():
    images, labels = torch.zeros(5000, 28, 28, dtype=torch.uint8), torch.zeros(5000)
    angles = RotatedMnistDataset(images, labels, max_angle=30.0).angles
    assert torch.equal(angles, RotatedMnistDataset(images, labels, max_angle=30.0).angles)
    assert angles.abs().max() <= 30.0 and angles.min() < -29 and angles.max() > 29
    assert abs(angles.mean()) < 1.0
    other = RotatedMnistDataset(images, labels, max_angle=30.0, angle_seed=1).angles
    assert not torch.equal(angles, other)


def test_data_loader_gives_rotated_normalised_digits_and_degrees(data_dir):
    loader = RotatedMnistDataLoader(str(data_dir), batch_size=64, validation_split=0.25)
    held_out = loader.split_validation().batch_sampler.indices
    assert len(loader.batch_sampler.indices) == 480 and len(held_out) == 160
    test_loader = RotatedMnistDataLoader(str(data_dir), batch_size=200, training=False)
    ((images, angles),) = list(test_loader)
    assert images.shape == (160, 1, 28, 28) and images.dtype == torch.float32
    assert angles.shape == (160,) and angles.dtype == torch.float32
    dataset = test_loader.dataset
    raw = dataset.images[:3].unsqueeze(1).float() / 255.0
    expected = (rotate(raw, dataset.angles[:3]) - 0.1307) / 0.3081
    first, first_angles = dataset.__getitems__(torch.arange(3))
    assert torch.allclose(first, expected, atol=1e-5)  # rotated on 0..255: rounding differs
    assert torch.equal(first_angles, dataset.angles[:3])


def test_model_predicts_one_angle_per_image():
    model = AngleNet()
    assert model(torch.randn(5, 1, 28, 28)).shape == (5,)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert str(model).endswith(f"Trainable parameters: {trainable:,}")


def test_losses():
    output, target = torch.tensor([0.0, 10.0]), torch.tensor([0.5, 0.0])
    assert mse_loss(output, target) == pytest.approx((0.25 + 100.0) / 2)
    assert smooth_l1_loss(output, target) == pytest.approx((0.5 * 0.25 + 9.5) / 2)


def reference(name: str, output: torch.Tensor, target: torch.Tensor) -> float:
    """The metric computed by hand over the whole epoch at once."""
    error = output.double() - target.double()
    if name == "mae":
        return error.abs().mean().item()
    if name == "rmse":
        return error.pow(2).mean().sqrt().item()
    return 1 - (error.pow(2).sum() / (target.double() - target.double().mean()).pow(2).sum()).item()


@pytest.mark.parametrize("name", module_metric.__all__)
def test_metrics_are_exact_over_uneven_batches(name):
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(203, generator=generator) * 90 - 45
    output = target + torch.randn(203, generator=generator) * 5
    tracker = MetricTracker({name: getattr(module_metric, name)()})
    for batch in torch.arange(203).split([100, 100, 3]):  # a short last batch
        tracker.update(torch.tensor(0.0), output[batch], target[batch])
    assert tracker.result()[name] == pytest.approx(reference(name, output, target), rel=1e-5)


def test_figure_plots_every_prediction_against_its_target(tmp_path):
    figures = Figures()
    target = torch.linspace(-45, 45, 30)
    figures.update(torch.zeros(20, 1, 28, 28), target[:20] + 1, target[:20])
    figures.update(torch.zeros(10, 1, 28, 28), target[20:] + 1, target[20:])
    (name, figure), *others = figures.draw().items()
    assert name == "predicted_vs_true" and not others
    (axes,) = figure.axes
    (dots,) = axes.collections
    offsets = torch.as_tensor(dots.get_offsets(), dtype=torch.float32)
    assert torch.allclose(offsets, torch.stack([target, target + 1], 1))
    assert "mean absolute error 1.00 degrees" in axes.get_title()
    figure.savefig(tmp_path / "figure.png")
    assert (tmp_path / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_trained_model_learned_the_synthetic_angles(tested_run):
    run, metrics, _ = tested_run
    # predicting 0 for every angle in [-45, 45] gives an MAE of 22.5 and an R2 of 0
    best = {"mae": 10.0, "rmse": 13.0, "r2": 0.7}
    for name in json.loads((PROJECT / "config.json").read_text())["metrics"]:
        assert metrics[name] > best[name] if name == "r2" else metrics[name] < best[name], name
    assert {p.name for p in run.glob("test_*.png")} == {"test_predicted_vs_true.png"}
