"""Imbalanced classes: class weights from the training split's counts, the balanced sampler (one
weighted draw per pass, shared by the DDP processes, resumable), per-class scores."""

import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.functional import cross_entropy

import model.loss as module_loss
import train
from base import BaseDataLoader, EpochBatchSampler
from base.base_data_loader import BatchDataset, seeded, split_indices
from model.figures import Figures
from model.metric import per_class
from parse_config import ConfigParser
from tests.conftest import FOLDER, synthetic_digits
from tests.test_resume import assert_same_weights, weights, whole_and_resumed
from utils.metric_tracker import MetricTracker
from utils.util import InputError

COUNTS = [20, 100, 400]  # three classes, 1:5:20
NAMES = ["rare", "common", "frequent"]


class Labelled(BatchDataset):
    """Samples that are their own index, of classes with COUNTS members each."""

    def __init__(self, counts: list[int] = COUNTS):
        self.labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitems__(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return indices, self.labels[indices]


class Loader(BaseDataLoader):
    class_names = NAMES


def loader(split: float | int = 0, sampler: str | None = "balanced", training=True) -> Loader:
    dataset = Labelled()
    return Loader(dataset, 32, True, split, training, dataset.labels, sampler, num_workers=0)


def loss_args(loader: Loader, class_weights) -> dict:
    return loader.loss_args({"loss": {"class_weights": class_weights}}, torch.device("cpu"))


def test_balanced_class_weights_are_n_over_classes_times_count_of_the_training_split():
    weight = loss_args(loader(), "balanced")["weight"]
    expected = [520 / (3 * 20), 520 / (3 * 100), 520 / (3 * 400)]  # as sklearn's "balanced"
    assert weight.tolist() == pytest.approx(expected)
    held_out = loader(split=100)  # the 100 validation samples are not counted
    counts = Labelled().labels[split_indices(520, 100)[0]].bincount(minlength=3)
    expected = (420 / (3 * counts)).tolist()
    assert loss_args(held_out, "balanced")["weight"].tolist() == pytest.approx(expected)
    assert loss_args(loader(), [1, 2, 3])["weight"].tolist() == [1, 2, 3]
    assert loss_args(loader(), None) == {}


def test_a_list_of_class_weights_of_the_wrong_length_names_the_classes():
    with pytest.raises(InputError, match=r"loss.class_weights: .*\['rare', 'common', 'frequent'\]"):
        loss_args(loader(), [1.0, 2.0])


def test_the_balanced_sampler_weighs_each_sample_by_its_class_in_training_only():
    sampler = loader().batch_sampler
    assert sampler.weights.tolist() == pytest.approx(
        [1 / 20] * 20 + [1 / 100] * 100 + [1 / 400] * 400
    )
    assert loader(training=False).batch_sampler.weights is None  # test.py: each sample once
    assert loader(sampler=None).batch_sampler.weights is None


def weighted_sampler(seed: int = 7, batch_size: int = 16) -> EpochBatchSampler:
    """519 of the 520 samples (an odd number: two processes cut their shards to one length)."""
    labels = Labelled().labels
    indices = torch.arange(1, 520)
    sampler = EpochBatchSampler(indices, batch_size, True, seed)
    sampler.weights = 1 / labels.bincount()[labels[indices]]
    return sampler


def draw(seed: int, epoch: int) -> torch.Tensor:
    """Pass ``epoch``'s draw, made here by hand: 519 indices by their weights, with replacement."""
    sampler = weighted_sampler()
    picks = torch.multinomial(
        sampler.weights, 519, replacement=True, generator=seeded(seed + epoch)
    )
    return sampler.indices[picks]


def shard(rank: int, init: str, out: str) -> None:
    """One DDP process (gloo): the batches of its two passes, saved for the test to compare."""
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    try:
        sampler = weighted_sampler()
        torch.save([torch.cat(list(sampler)) for _ in range(2)], Path(out) / f"{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_processes_take_disjoint_halves_of_one_weighted_draw(tmp_path: Path):
    init = f"file://{tmp_path / 'rendezvous'}"
    # spawned, not forked: a fork copies whatever locks the other threads of this test process
    # hold (a logger's, after the logger tests); forked, it failed once in a loaded full suite
    mp.start_processes(shard, args=(init, str(tmp_path)), nprocs=2, start_method="spawn")
    shards = [torch.load(tmp_path / f"{rank}.pt") for rank in (0, 1)]
    for epoch in range(2):
        whole = draw(7, epoch)
        first, second = shards[0][epoch], shards[1][epoch]
        assert len(first) == len(second) == 259  # 519 // 2: the processes step together
        # every other pick of the one draw: disjoint positions that together cover it
        assert torch.equal(first, whole[0::2][:259]) and torch.equal(second, whole[1::2][:259])
        assert torch.equal(torch.stack([first, second], 1).flatten(), whole[:518])
        classes = Labelled().labels[torch.cat([first, second])].bincount(minlength=3)
        assert (classes - 518 / 3).abs().max() < 40, classes  # each about a third, not 4% rare
    assert not torch.equal(shards[0][0], shards[0][1])  # a new draw each pass


def test_a_weighted_sampler_resumed_mid_pass_gives_the_remaining_batches():
    uninterrupted = weighted_sampler()
    passes = [list(uninterrupted) for _ in range(3)]
    resumed = weighted_sampler(seed=0)
    resumed.set_position(7, len(uninterrupted) + 5)  # in pass 2, after 5 batches
    assert [b.tolist() for b in resumed] == [b.tolist() for b in passes[1][5:]]
    assert [b.tolist() for b in resumed] == [b.tolist() for b in passes[2]]


def test_per_class_scores_are_exact_over_uneven_batches():
    generator = torch.Generator().manual_seed(0)
    targets = Labelled([5, 25, 100]).labels
    outputs = torch.randn(130, 3, generator=generator) + 2 * torch.eye(3)[targets]
    tracker = MetricTracker(per_class(NAMES))
    for batch in torch.arange(130).split([64, 64, 2]):
        tracker.update(torch.tensor(0.0), outputs[batch], targets[batch])
    scores, predicted = tracker.result()["per_class"], outputs.argmax(1)
    for c, name in enumerate(NAMES):
        hits = ((predicted == c) & (targets == c)).sum().item()
        assert scores[name]["support"] == [5, 25, 100][c]
        assert scores[name]["recall"] == pytest.approx(hits / (targets == c).sum().item())
        assert scores[name]["precision"] == pytest.approx(hits / (predicted == c).sum().item())


def test_the_confusion_figure_labels_each_row_with_its_recall_and_column_with_its_precision():
    figures = Figures(NAMES)
    target = torch.tensor([0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    predicted = torch.tensor([0, 1, 1, 1, 1, 2, 2, 2, 2, 2])  # recall 1/2, 3/4, 1
    figures.update(torch.zeros(10, 1, 4, 4), torch.eye(3)[predicted], target)
    axes = figures.draw()["confusion_matrix"].axes[0]
    rows = [label.get_text() for label in axes.get_yticklabels()]
    columns = [label.get_text() for label in axes.get_xticklabels()]
    assert rows == ["rare  R=0.50", "common  R=0.75", "frequent  R=1.00"]
    assert columns == ["rare  P=1.00", "common  P=0.75", "frequent  P=0.80"]


def test_a_run_with_the_balanced_sampler_and_class_weights_resumes_exactly(base_config, tmp_path):
    base_config["data_loader"]["args"]["sampler"] = "balanced"
    base_config["loss"]["class_weights"] = "balanced"
    whole, split = whole_and_resumed(base_config, tmp_path / "split", 2)
    assert_same_weights(
        weights(whole / "checkpoint-epoch2.pth"), weights(split / "checkpoint-epoch2.pth")
    )


def training_labels(config: dict) -> torch.Tensor:
    """The classes of the training split, worked out from the synthetic data files."""
    labels = synthetic_digits(640, 0)[1].long()
    if FOLDER:  # the files are listed class by class
        labels = labels.sort().values
    return labels[split_indices(640, config["data_loader"]["args"]["validation_split"])[0]]


@pytest.mark.parametrize("setting", ["balanced", [float(c + 1) for c in range(10)]])
def test_the_trainer_weighs_the_loss_by_the_class_weights(base_config: dict, setting):
    base_config["loss"]["class_weights"] = setting
    config = ConfigParser(json.loads(json.dumps(base_config)))
    config.cli_args = train.parser().parse_args([])
    trainer = train.build_trainer(config, torch.device("cpu"))
    counts = training_labels(base_config).bincount(minlength=10)
    weight = counts.sum() / (10 * counts) if setting == "balanced" else torch.tensor(setting)
    output, target = torch.randn(64, 10), torch.arange(64) % 10
    smoothing = base_config["loss"]["args"]["label_smoothing"]
    expected = cross_entropy(output, target, weight=weight.float(), label_smoothing=smoothing)
    assert torch.allclose(trainer.criterion(output, target), expected)
    assert not torch.allclose(expected, cross_entropy(output, target, label_smoothing=smoothing))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("loss.class_weights=[1, 2]", "loss.class_weights: 'balanced' or one weight per class of"),
        ("loss.class_weights=even", "loss.class_weights: must be null, 'balanced' or a list"),
        ("loss.class_weights=[1, 0]", "loss.class_weights[1]: must be a weight > 0, got 0"),
        ("loss.type=unweighted", "loss.class_weights: got an unexpected keyword argument 'weight'"),
        ("data_loader.args.sampler=weighted", "data_loader.args.sampler: must be null or"),
    ],
)
def test_bad_class_weights_and_sampler_fail_with_one_line(
    base_config, tmp_path, capsys, monkeypatch, override, message
):
    def unweighted(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return cross_entropy(output, target)

    monkeypatch.setattr(module_loss, "unweighted", unweighted, raising=False)
    monkeypatch.setattr(module_loss, "__all__", [*module_loss.__all__, "unweighted"])
    if override.startswith("loss.type"):
        base_config["loss"].update(class_weights="balanced", args={})
    (tmp_path / "config.json").write_text(json.dumps(base_config))
    with pytest.raises(SystemExit) as exit_info:
        train.cli(["-c", str(tmp_path / "config.json"), override])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.startswith(f"error: {message}"), err
    assert len(err.splitlines()) == 1 and not (tmp_path / "saved").exists()
