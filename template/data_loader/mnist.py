"""MNIST from its gzip files in ``DATA_DIR/MNIST/raw/`` (torchvision's layout, mirrors and MD5s)."""

import gzip
import math
import zlib
from pathlib import Path

import torch
from torchvision.datasets import MNIST
from torchvision.datasets.utils import download_url

from base.base_data_loader import BatchDataset
from utils.util import InputError

IMAGE_ARGS = {"image_size": [28, 28], "channels": 1, "mean": [0.1307], "std": [0.3081]}
FIX = "delete it to download it again, or replace it with the original file"
WHERE = "data_loader.args.data_dir to the folder that holds MNIST/raw/"


class MnistDataset(BatchDataset):
    """MNIST images (B, 1, 28, 28) as uint8 and their classes; task datasets derive from it."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitems__(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[indices].unsqueeze(1), self.labels[indices]


def load_mnist(data_dir: str | Path, train: bool, download=True) -> tuple[torch.Tensor, ...]:
    """Images (N, 28, 28) as uint8 and labels (N,) as int64, of the train or the test split."""
    raw = Path(data_dir) / "MNIST" / "raw"
    prefix = "train" if train else "t10k"
    images = read_idx(raw / f"{prefix}-images-idx3-ubyte.gz", 3, download)
    labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", 1, download)
    if len(images) != len(labels):
        counts = f"{len(images)} images but {len(labels)} labels"
        raise InputError(f"{raw}: {counts}; replace both files with matching originals")
    return images, labels.long()


def read_idx(path: Path, ndim: int, download: bool) -> torch.Tensor:
    """An IDX file of unsigned bytes as a tensor; any damage is an error naming the file."""
    if not path.is_file():
        if not download:
            raise InputError(f"{path}: not found; set data_loader.args.download=true or {WHERE}")
        fetch(path)
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(f"{path}: corrupt or truncated gzip file ({err}); {FIX}") from None
    if data[:4] != bytes([0, 0, 8, ndim]):  # 8: unsigned bytes
        raise InputError(f"{path}: not an IDX file of {ndim}-d unsigned bytes; {FIX}")
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    start, size = 4 + 4 * ndim, math.prod(shape)
    if len(data) != start + size:
        sizes = f"holds {len(data) - start} bytes of data but its header announces {size}"
        raise InputError(f"{path}: {sizes} (truncated?); {FIX}")
    return torch.frombuffer(bytearray(data[start:]), dtype=torch.uint8).view(shape)


def fetch(path: Path) -> None:
    """Download ``path.name`` from the first of torchvision's mirrors that serves it intact."""
    part, errors = path.with_name(path.name + ".part"), []
    for url in (mirror + path.name for mirror in MNIST.mirrors):
        try:
            download_url(url, path.parent, part.name, dict(MNIST.resources)[path.name])
            part.replace(path)
            return
        except (OSError, RuntimeError) as err:  # RuntimeError: torchvision's MD5 check
            errors.append(f"{url}: {'MD5 mismatch' if type(err) is RuntimeError else err}")
            part.unlink(missing_ok=True)
    fix = f"copy the file there by hand or set {WHERE}"
    raise InputError(f"{path}: download failed ({'; '.join(errors)}); {fix}")
