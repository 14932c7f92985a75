"""Segmentation parts: digit canvases, the U-Net, losses, metrics exact over an epoch, figures."""

import json
import math

import pytest
import torch

import model.metric as module_metric
from data_loader.data_loaders import DigitCanvasDataLoader, DigitCanvasDataset
from model.figures import Figures
from model.loss import cross_entropy, cross_entropy_dice, dice_loss
from model.model import UNet
from tests.conftest import PROJECT
from utils.metric_tracker import MetricTracker


def test_canvas_labels_ink_with_the_digit_class_plus_one():
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[0, 5:10, 5:10] = 255  # ink of a 3
    images[0, 12, 5] = 127  # too faint: background
    images[1, 20:25, 10:15] = 200  # ink of a 7
    dataset = DigitCanvasDataset(images, torch.tensor([3, 7]))
    canvas, mask = dataset[0]
    assert canvas.shape == (1, 28, 56) and mask.shape == (28, 56) and mask.dtype == torch.int64
    assert sorted(dataset.pairs[0].tolist()) == [0, 1]
    column_of_3 = dataset.columns[0][dataset.pairs[0] == 0].item()  # where digit 0 starts
    assert (mask[5:10, column_of_3 + 5 : column_of_3 + 10] == 4).all()
    assert mask[12, column_of_3 + 5] == 0
    assert sorted(mask.unique().tolist()) == [0, 4, 8]
    assert (mask == 4).sum() == 25 and (mask == 8).sum() == 25


def test_canvases_are_deterministic_and_use_every_digit_once(data_dir):
    first = DigitCanvasDataLoader(str(data_dir), batch_size=50, shuffle=False, training=False)
    second = DigitCanvasDataLoader(str(data_dir), batch_size=50, shuffle=False, training=False)
    pairs = first.dataset.pairs
    assert len(pairs) == 80 and sorted(pairs.flatten().tolist()) == list(range(160))
    for (images_a, masks_a), (images_b, masks_b) in zip(first, second, strict=True):
        assert torch.equal(images_a, images_b) and torch.equal(masks_a, masks_b)
    images, masks = next(iter(first))
    assert images.shape == (50, 1, 28, 56) and masks.shape == (50, 28, 56)
    digit_classes = first.dataset.labels[pairs[:50]] + 1
    for mask, classes in zip(masks, digit_classes, strict=True):
        assert set(mask.unique().tolist()) <= {0, *classes.tolist()}


def test_train_and_validation_canvases_split(data_dir):
    loader = DigitCanvasDataLoader(str(data_dir), batch_size=32, validation_split=0.25)
    held_out = loader.split_validation().batch_sampler.indices
    assert len(loader.batch_sampler.indices) == 240 and len(held_out) == 80


def test_unet_keeps_the_image_size_and_scores_eleven_classes():
    model = UNet()
    assert model(torch.randn(3, 1, 28, 56)).shape == (3, 11, 28, 56)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert str(model).endswith(f"Trainable parameters: {trainable:,}")


def test_losses_are_small_for_confident_right_answers_only():
    target = torch.randint(0, 11, (2, 28, 56))
    right = torch.nn.functional.one_hot(target, 11).permute(0, 3, 1, 2).float() * 20
    wrong = right.roll(1, dims=1)
    assert dice_loss(right, target) < 0.01 < 0.9 < dice_loss(wrong, target)
    assert cross_entropy(right, target) < 0.01
    combined = cross_entropy_dice(wrong, target, dice_weight=0.5)
    assert combined == pytest.approx(cross_entropy(wrong, target) + 0.5 * dice_loss(wrong, target))


def reference(name: str, predicted: torch.Tensor, target: torch.Tensor) -> float:
    """The metric computed by hand over all pixels at once."""
    if name == "pixel_accuracy":
        return (predicted == target).float().mean().item()
    scores = []
    for c in range(11):
        hits = ((predicted == c) & (target == c)).sum().item()
        both = (predicted == c).sum().item() + (target == c).sum().item()
        if both:
            scores.append(hits / (both - hits) if name == "mean_iou" else 2 * hits / both)
    return sum(scores) / len(scores)


@pytest.mark.parametrize("name", module_metric.__all__)
def test_metrics_are_exact_over_uneven_batches(name):
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, 11, (23, 8, 16), generator=generator)
    target[target == 10] = 9  # class 10 never occurs: left out of the class average
    output = torch.randn(23, 11, 8, 16, generator=generator)
    output[:15] += 4 * torch.nn.functional.one_hot(target[:15], 11).permute(0, 3, 1, 2)
    tracker = MetricTracker({name: getattr(module_metric, name)()})
    for batch in torch.arange(23).split([10, 10, 3]):  # a short last batch
        tracker.update(torch.tensor(0.0), output[batch], target[batch])
    expected = reference(name, output.argmax(1), target)
    assert tracker.result()[name] == pytest.approx(expected, abs=1e-6)


def test_figure_shows_input_true_and_predicted_masks(tmp_path):
    figures = Figures()
    target = torch.randint(0, 11, (4, 28, 56))
    output = torch.nn.functional.one_hot(target, 11).permute(0, 3, 1, 2).float()
    figures.update(torch.randn(4, 1, 28, 56), output, target)
    figures.update(torch.randn(4, 1, 28, 56), output, target)  # only the first batch is kept
    assert torch.equal(figures.predicted, target)
    (name, figure), *others = figures.draw().items()
    assert name == "segmentation" and not others
    panels = [axes for axes in figure.axes if axes.images]
    assert len(panels) == 4 * 3
    figure.savefig(tmp_path / "figure.png")
    assert (tmp_path / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_trained_model_scores_the_synthetic_canvases(tested_run):
    run, metrics, _ = tested_run
    # 27 steps take the loss well below chance level, ln(11); telling the blocks apart takes longer
    assert metrics["loss"] < 0.6 * math.log(11)
    for name in json.loads((PROJECT / "config.json").read_text())["metrics"]:
        assert 0.0 < metrics[name] <= 1.0 + 1e-6, name
    assert {p.name for p in run.glob("test_*.png")} == {"test_segmentation.png"}


def random_blocks(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Canvases with a bright block (class 1) and a dim block (class 2) at random places."""
    images = torch.full((n, 1, 28, 56), -0.4)  # about the normalised value of black
    masks = torch.zeros(n, 28, 56, dtype=torch.int64)
    for i in range(n):
        for label, value in ((1, 2.8), (2, 1.2)):
            row, column = torch.randint(0, 20, (1,), generator=generator), i % 2 * 28
            column += torch.randint(0, 20, (1,), generator=generator)
            images[i, 0, row : row + 8, column : column + 8] = value
            masks[i, row : row + 8, column : column + 8] = label
    return images, masks


def test_unet_learns_to_segment_blocks():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = UNet(num_classes=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(40):
        images, masks = random_blocks(16, generator)
        loss = cross_entropy(model(images), masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    images, masks = random_blocks(16, generator)
    with torch.no_grad():
        predicted = model.eval()(images).argmax(1)
    assert (predicted == masks).float().mean() > 0.98
