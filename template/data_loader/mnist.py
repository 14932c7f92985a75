"""MNIST from its original gzip files in ``DATA_DIR/MNIST/raw/`` (torchvision's layout, so a
download is reused; missing files are fetched and MD5-checked), its dataset and its loader."""

import gzip
import hashlib
import logging
import math
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from base.base_data_loader import BaseDataLoader, BatchDataset, keep_batch
from utils.util import InputError

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FILES = {  # name: MD5 of the .gz file
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    """Pixel values 0..255 as floats of mean 0 and deviation 1 over MNIST."""
    return pixels.div(255.0).sub_(MNIST_MEAN).div_(MNIST_STD)


class MnistDataset(BatchDataset):
    """MNIST images (B, 1, 28, 28), normalised, and their classes; task datasets derive from it."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitems__(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return normalise(self.images[indices].unsqueeze(1)), self.labels[indices]


class MnistSplitLoader(BaseDataLoader):
    """The train split (with a validation hold-out) or, with ``training=False``, the test split as
    ``make_dataset(images, labels)``: one constructor path, which passes ``training`` on."""

    def __init__(
        self,
        make_dataset: Callable[[torch.Tensor, torch.Tensor], Dataset],
        data_dir: str,
        training: bool,
        download: bool,
        *loader_args: Any,
    ):
        images, labels = load_mnist(data_dir, train=training, download=download)
        super().__init__(make_dataset(images, labels), *loader_args, keep_batch, training)


def load_mnist(
    data_dir: str | Path, train: bool, download: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 28, 28) as uint8 and labels (N,) as int64, of the train or the test split."""
    raw = Path(data_dir) / "MNIST" / "raw"
    prefix = "train" if train else "t10k"
    paths = [raw / f"{prefix}-images-idx3-ubyte.gz", raw / f"{prefix}-labels-idx1-ubyte.gz"]
    for path in paths:
        if not path.is_file():
            if not download:
                raise InputError(
                    f"{path}: file not found; set data_loader.args.download=true "
                    "or data_loader.args.data_dir to the folder that holds MNIST/raw/"
                )
            download_file(path)
    images, labels = read_idx(paths[0], ndim=3), read_idx(paths[1], ndim=1)
    if len(images) != len(labels):
        raise InputError(
            f"{raw}: {len(images)} images but {len(labels)} labels; "
            "replace both files with matching originals"
        )
    return images, labels.long()


def read_idx(path: Path, ndim: int) -> torch.Tensor:
    """An IDX file of unsigned bytes as a tensor; any damage is an error naming the file."""
    fix = "delete it to download it again, or replace it with the original file"
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(f"{path}: corrupt or truncated gzip file ({err}); {fix}") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08 or data[3] != ndim:  # 8: ubyte
        raise InputError(f"{path}: not an IDX file of {ndim}-d unsigned bytes; {fix}")
    header = 4 + 4 * ndim
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if len(data) != header + math.prod(shape):
        raise InputError(
            f"{path}: holds {len(data) - header} bytes of data but its header "
            f"announces {math.prod(shape)} (truncated?); {fix}"
        )
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).view(shape)


def download_file(path: Path) -> None:
    """Fetch ``path.name`` from the first mirror that serves it intact (MD5 checked)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in (mirror + path.name for mirror in MIRRORS):
        try:
            data = fetch(url)
        except (urllib.error.URLError, OSError) as err:
            errors.append(f"{url}: {getattr(err, 'reason', err)}")
            continue
        if hashlib.md5(data).hexdigest() != FILES[path.name]:
            errors.append(f"{url}: MD5 mismatch")
            continue
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)
        return
    raise InputError(
        f"{path}: download failed ({'; '.join(errors)}); copy the file there by hand "
        "or point data_loader.args.data_dir at a folder that holds MNIST/raw/"
    )


def fetch(url: str) -> bytes:
    """The body of ``url``, with a progress bar."""
    logging.getLogger("data").info(f"Downloading {url}")
    with urllib.request.urlopen(url, timeout=30) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm.wrapattr(response, "read", total=total, desc=url.rsplit("/", 1)[-1]) as stream:
            return b"".join(iter(lambda: stream.read(1 << 16), b""))
