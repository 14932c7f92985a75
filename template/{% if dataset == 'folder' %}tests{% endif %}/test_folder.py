"""Image folders: bad input is named with its fix before anything is written; skip_bad_files, the
cache, mixed channels, augmentation (masks move with images) and repeatable batches with workers."""

import csv
import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from torchvision.io import write_png

import data_loader.data_loaders as module_data
import train
from tests.conftest import PROJECT, run_dirs, small_config

TYPE = json.loads((PROJECT / "config.json").read_text())["data_loader"]["type"]
TASK = {"ImageFolderDataLoader": "classification", "MaskFolderDataLoader": "segmentation"}.get(
    TYPE, "regression"
)


@pytest.fixture
def data(tmp_path: Path, data_dir: Path) -> Path:
    """A copy of the synthetic image folders, to damage."""
    for split in ("train", "test"):
        shutil.copytree(data_dir / split, tmp_path / "data" / split)
    return tmp_path / "data"


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.png") if "masks" not in p.parts)


def loader(data: Path, **args):
    config = small_config(data.parent / "saved", data)
    return getattr(module_data, TYPE)(**{**config["data_loader"]["args"], **args})


def rewrite_csv(data: Path, column: str, value: str) -> None:
    path = data / "train" / "labels.csv"
    rows = list(csv.reader(path.open()))
    rows[1][rows[0].index(column)] = value
    with path.open("w", newline="") as file:
        csv.writer(file).writerows(rows)


def damage(case: str, data: Path) -> list[str]:
    """Damage ``data`` as the case says; the parts its error line must hold."""
    train_dir, first = data / "train", images(data / "train")[0]
    if case == "empty folder":
        shutil.rmtree(train_dir)
        train_dir.mkdir()
        return [str(train_dir)]
    if case == "class folder without images":
        for path in (train_dir / "3").iterdir():
            path.unlink()
        return [f"{train_dir / '3'}: no image files", "put"]
    if case in ("corrupt image", "truncated image"):
        first.write_bytes(b"garbage" if case == "corrupt image" else first.read_bytes()[:60])
        return [f"{first}: not a readable image", "skip_bad_files=true"]
    if case == "mask size differs":
        mask = train_dir / "masks" / first.name
        write_png(torch.zeros(1, 10, 12, dtype=torch.uint8), str(mask))
        return [f"{mask}: mask of (10, 12) pixels", "make the mask the size of its image"]
    if case == "mask values outside the classes":
        mask = train_dir / "masks" / first.name
        write_png(torch.full((1, 28, 56), 42, dtype=torch.uint8), str(mask))
        return [f"{mask}: values [42]", "ignore_value 255", "fix the mask"]
    if case == "csv row of a missing file":
        rewrite_csv(data, "file", "images/nowhere.png")
        return [f"{train_dir / 'labels.csv'}, line 2", "nowhere.png not found", "fix the file"]
    if case == "non-numeric target":
        rewrite_csv(data, "angle", "north")
        return [f"{train_dir / 'labels.csv'}, line 2: angle is 'north', not a number"]
    if case == "class in test but not in train":
        (data / "test" / "cat").mkdir()
        shutil.copy(first, data / "test" / "cat" / "x.png")
        return [f"{data / 'test' / 'cat'}: class 'cat' is not in {train_dir}", "remove the folder"]
    raise AssertionError(case)


CASES = {
    "all": ["empty folder", "corrupt image", "truncated image"],
    "classification": ["class folder without images"],
    "segmentation": ["mask size differs", "mask values outside the classes"],
    "regression": ["csv row of a missing file", "non-numeric target"],
}


@pytest.mark.parametrize("case", CASES["all"] + CASES[TASK])
def test_bad_folder_fails_with_one_line_naming_the_file_and_writes_nothing(case, data, capsys):
    parts = damage(case, data)
    config = small_config(data.parent / "saved", data)
    (data.parent / "config.json").write_text(json.dumps(config))
    with pytest.raises(SystemExit) as exit_info:
        train.cli(["-c", str(data.parent / "config.json")])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for part in parts:
        assert part in lines[0]
    assert not (data.parent / "saved").exists() or not run_dirs(data.parent / "saved")


def test_test_split_class_missing_from_train_is_an_error(data):
    if TASK != "classification":
        pytest.skip("classification layout")
    parts = damage("class in test but not in train", data)
    with pytest.raises(Exception, match="class 'cat' is not in") as error:
        loader(data, training=False)
    assert all(part in str(error.value) for part in parts)


def test_skip_bad_files_leaves_them_out_with_one_warning(data, caplog):
    bad = images(data / "train")[:2]
    for path in bad:
        path.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="data"):
        kept = loader(data, skip_bad_files=True, num_workers=0)
    warnings = [r.getMessage() for r in caplog.records if r.name == "data"]
    assert len(warnings) == 1 and "left out 2 unreadable image files" in warnings[0]
    assert str(bad[0]) in warnings[0]
    assert not set(bad) & set(kept.dataset.files)


def test_cache_reads_no_file_after_the_first_pass(data):
    cached = loader(data, cache=True, num_workers=0, shuffle=False)
    plain = list(loader(data, cache=False, num_workers=0, shuffle=False))
    for path in images(data / "train"):
        path.unlink()  # a cached loader never reads them again
    for (a, ta), (b, tb) in zip(cached, plain, strict=True):
        assert torch.equal(a, b) and torch.equal(ta, tb)


def test_grayscale_and_rgb_files_are_converted_to_the_configured_channels(data):
    first = images(data / "train")[0]
    gray = torch.randint(0, 255, (1, 28, 56 if TASK == "segmentation" else 28), dtype=torch.uint8)
    write_png(gray.expand(3, -1, -1).contiguous(), str(first))  # an RGB file among grey ones
    batch, _ = next(iter(loader(data, num_workers=0)))
    assert batch.shape[1] == 1
    rgb, _ = next(iter(loader(data, num_workers=0, channels=3, mean=[0.1] * 3, std=[0.3] * 3)))
    assert rgb.shape[1] == 3


def test_an_image_of_another_size_is_resized_with_its_mask(data):
    height, width = loader(data, num_workers=0).dataset.args["image_size"]
    first = images(data / "train")[0]
    write_png(torch.randint(0, 255, (1, 2 * height, 2 * width), dtype=torch.uint8), str(first))
    if TASK == "segmentation":
        mask = torch.ones(1, 2 * height, 2 * width, dtype=torch.uint8)
        write_png(mask, str(data / "train" / "masks" / first.name))
    dataset = loader(data, num_workers=0).dataset
    image, target = dataset.load(dataset.files.index(first))
    assert image.shape == (1, height, width)
    if TASK == "segmentation":
        assert target.shape == (height, width) and target.unique().tolist() == [1]


def test_batches_with_augmentation_repeat_with_workers_and_after_a_resume(data):
    augment = [{"type": "RandomAffine", "args": {"degrees": 0, "translate": [0.2, 0.2]}}]
    if TASK == "segmentation":
        augment = [{"type": "RandomHorizontalFlip", "args": {"p": 0.5}}]

    def epoch(workers: int, skip: int = 0) -> list:
        torch.manual_seed(0)
        made = loader(data, augment=augment, num_workers=workers, cache=True)
        made.batch_sampler.set_position(made.batch_sampler.seed, skip)
        return [batch for batch in made]

    plain, workers, resumed = epoch(0), epoch(2), epoch(2, skip=2)
    for (a, ta), (b, tb) in zip(plain, workers, strict=True):
        assert torch.equal(a, b) and torch.equal(ta, tb)
    for (a, ta), (b, tb) in zip(plain[2:], resumed, strict=True):
        assert torch.equal(a, b) and torch.equal(ta, tb)
    unaugmented = next(iter(loader(data, num_workers=0, cache=True)))[0]
    assert not torch.equal(plain[0][0], unaugmented)


def test_masks_move_with_their_images(data):
    if TASK != "segmentation":
        pytest.skip("segmentation masks")
    flip = [{"type": "RandomHorizontalFlip", "args": {"p": 1.0}}]
    torch.manual_seed(0)
    plain = next(iter(loader(data, num_workers=0, shuffle=False)))
    torch.manual_seed(0)
    flipped = next(iter(loader(data, num_workers=0, shuffle=False, augment=flip)))
    assert torch.equal(flipped[0], plain[0].flip(-1)) and torch.equal(flipped[1], plain[1].flip(-1))


def test_ignore_value_becomes_minus_100_which_no_loss_counts(data):
    if TASK != "segmentation":
        pytest.skip("segmentation masks")
    first = images(data / "train")[0]
    write_png(
        torch.full((1, 28, 56), 255, dtype=torch.uint8), str(data / "train" / "masks" / first.name)
    )
    made = loader(data, num_workers=0, shuffle=False, validation_split=0)
    masks = torch.cat([target for _, target in made])
    assert (masks == -100).sum() == 28 * 56


def test_unknown_augmentation_is_named_with_a_suggestion(data, capsys):
    config = small_config(data.parent / "saved", data)
    config["data_loader"]["args"]["augment"] = [{"type": "RandomHorizontalFlp", "args": {}}]
    (data.parent / "config.json").write_text(json.dumps(config))
    with pytest.raises(SystemExit):
        train.cli(["-c", str(data.parent / "config.json")])
    err = capsys.readouterr().err
    assert err.startswith("error: data_loader.args.augment[0].type: unknown 'RandomHorizontalFlp'")
    assert "did you mean 'RandomHorizontalFlip'" in err


def test_val_folder_replaces_the_validation_split(data):
    shutil.copytree(data / "test", data / "val")
    made = loader(data, validation_split=0.5)
    assert len(made.batch_sampler.indices) == len(made.dataset)
    assert len(made.split_validation().dataset) == len(loader(data, training=False).dataset)


def test_stats_command_gives_mean_and_std_of_the_pixels(data):
    from data_loader.__main__ import stats

    folder = data / "train" / ("images" if TASK != "classification" else "")
    from data_loader.images import read_image

    pixels = torch.cat([read_image(p, 1).flatten() / 255 for p in images(folder)]).double()
    result = stats(folder, 1)
    assert result["mean"][0] == pytest.approx(pixels.mean().item(), abs=1e-4)
    assert result["std"][0] == pytest.approx(pixels.std(correction=0).item(), abs=1e-4)
