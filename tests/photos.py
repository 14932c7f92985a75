"""Small real-photo datasets for the folder loaders, cut from the sample photos that scikit-image
and scikit-learn ship (no download): crops of mixed sizes, RGB, saved as JPEG. Training crops come
from the top part of each photo (or region), test crops from the bottom part, so the test set is
never seen in training."""

import csv
import math
from pathlib import Path

import numpy as np
from PIL import Image

# the 9 RGB photos first: up to 9 classes are whole colour photos
RGB = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina")
RGB += ("rocket",)
GRAY = ("brick", "camera", "cell", "clock", "coins", "grass", "gravel", "moon", "page", "text")
TRAIN_SHARE = 0.65  # of each region's rows


def photos() -> list[tuple[str, np.ndarray]]:
    """(name, H x W x 3 uint8) of every sample photo; the grey ones repeated over RGB."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    named = [(name, getattr(skimage.data, name)()) for name in RGB]
    samples = load_sample_images()
    named += [
        (Path(f).stem, image) for f, image in zip(samples.filenames, samples.images, strict=True)
    ]
    named += [(name, np.repeat(getattr(skimage.data, name)()[..., None], 3, 2)) for name in GRAY]
    return named


def regions(n: int) -> list[tuple[str, np.ndarray]]:
    """``n`` distinct picture regions: whole photos, or vertical bands of them when ``n`` exceeds
    the number of photos (37 classes: 2 bands of each of the 19 photos)."""
    named = photos()
    bands = math.ceil(n / len(named))
    out = []
    for band in range(bands):
        for name, image in named:
            width = image.shape[1] // bands
            band_image = image[:, band * width :][:, :width]
            out.append((f"{name}_{band}" if bands > 1 else name, band_image))
    return out[:n]


def crop(image: np.ndarray, rng: np.random.Generator, training: bool) -> np.ndarray:
    """A random crop of mixed size and shape from the training (top) or test (bottom) rows; its
    size is drawn alike for both, as photos of one kind are taken alike."""
    split = int(image.shape[0] * TRAIN_SHARE)
    part = image[:split] if training else image[split:]
    side = min(image.shape[0] - split, image.shape[1])  # the same sizes in both parts
    height = int(rng.integers(max(16, side // 3), side + 1))
    width = min(part.shape[1], int(height * rng.uniform(0.75, 1.33)))
    top = int(rng.integers(0, part.shape[0] - height + 1))
    left = int(rng.integers(0, part.shape[1] - width + 1))
    return part[top : top + height, left : left + width]


def save(image: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image)).save(path, quality=95)


def classification_folder(
    root: Path,
    n_classes: int,
    n_train: int | list[int] = 80,
    n_test: int | list[int] = 20,
    seed: int = 0,
) -> list[str]:
    """``root/{train,test}/CLASS/*.jpg``: class = the region a crop comes from; its class names.
    A list of counts gives each class its own (imbalanced classes), in the order of ``regions``."""
    rng = np.random.default_rng(seed)
    named = regions(n_classes)
    for split, counts in (("train", n_train), ("test", n_test)):
        counts = counts if isinstance(counts, list) else [counts] * n_classes
        for (name, image), count in zip(named, counts, strict=True):
            for i in range(count):
                save(crop(image, rng, split == "train"), root / split / name / f"{i:04d}.jpg")
    return sorted(name for name, _ in named)


def regression_folder(root: Path, n_train: int = 400, n_test: int = 100, seed: int = 0) -> None:
    """``root/{train,test}/labels.csv`` with two targets: ``brightness``, the factor a crop of a
    colour photo was scaled by (0.3-1), and ``position``, the crop's horizontal centre in its
    photo (0-1)."""
    rng = np.random.default_rng(seed)
    named = regions(9)
    for split, count in (("train", n_train), ("test", n_test)):
        rows = []
        for i in range(count):
            _, image = named[i % len(named)]
            left = int(rng.integers(0, image.shape[1] // 2))
            width = int(rng.integers(image.shape[1] // 8, image.shape[1] // 2))
            part = crop(image[:, left : left + width], rng, split == "train")
            brightness = float(rng.uniform(0.3, 1.0))
            file = f"{i:04d}.jpg"
            save((part * brightness).astype(np.uint8), root / split / file)
            position = (left + width / 2) / image.shape[1]
            rows.append({"file": file, "brightness": brightness, "position": position})
        with (root / split / "labels.csv").open("w", newline="") as out:
            writer = csv.DictWriter(out, ["file", "brightness", "position"])
            writer.writeheader()
            writer.writerows(rows)


def segmentation_folder(
    root: Path, n_classes: int, n_train: int = 200, n_test: int = 50, size: int = 64, seed: int = 0
) -> list[str]:
    """``root/{train,test}/{images,masks}/*.png``: two crops of different regions pasted on a
    black canvas; the mask holds 0 for background and 1 + the region's index elsewhere. Returns
    the class names (background first)."""
    rng = np.random.default_rng(seed)
    named = regions(n_classes - 1)
    for split, count in (("train", n_train), ("test", n_test)):
        for i in range(count):
            canvas = np.zeros((size, size, 3), np.uint8)
            mask = np.zeros((size, size), np.uint8)
            for k, c in enumerate(rng.choice(len(named), 2, replace=False)):
                part = np.asarray(
                    Image.fromarray(crop(named[c][1], rng, split == "train")).resize((32, 32))
                )
                top, left = int(rng.integers(0, size - 32)), k * 32
                canvas[top : top + 32, left : left + 32] = part
                mask[top : top + 32, left : left + 32] = c + 1
            save(canvas, root / split / "images" / f"{i:04d}.png")
            save(mask, root / split / "masks" / f"{i:04d}.png")
    return ["background", *(name for name, _ in named)]
