"""Reading, checking and downloading the MNIST IDX files."""

import contextlib
import functools
import gzip
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import pytest
import torch

from data_loader import mnist
from tests.conftest import write_mnist
from utils.util import InputError


def test_reads_images_and_labels(data_dir: Path):
    images, labels = mnist.load_mnist(data_dir, train=True)
    assert images.shape == (640, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (640,) and labels.dtype == torch.int64
    test_images, _ = mnist.load_mnist(data_dir, train=False)
    assert len(test_images) == 160


def corrupt_copy(tmp_path: Path, data_dir: Path, damage) -> Path:
    root = tmp_path / "data"
    shutil.copytree(data_dir, root)
    path = root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz"
    damage(path)
    return root


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:500]), "corrupt or truncated gzip file"),
        (lambda p: p.write_bytes(b"not a gzip file at all"), "corrupt or truncated gzip file"),
        (lambda p: p.write_bytes(gzip.compress(b"\0\0\x08\x03" + bytes(50))), "truncated?"),
        (
            lambda p: p.write_bytes(gzip.compress(b"\x12\x34\x56\x78" + bytes(50))),
            "not an IDX file",
        ),
    ],
)
def test_damaged_file_is_named_with_the_fix(tmp_path, data_dir, damage, message):
    root = corrupt_copy(tmp_path, data_dir, damage)
    with pytest.raises(InputError, match="train-images-idx3-ubyte.gz") as error:
        mnist.load_mnist(root, train=True, download=False)
    assert message in str(error.value)
    assert "delete it to download it again" in str(error.value)


def test_missing_file_without_download_says_how_to_fix(tmp_path):
    with pytest.raises(InputError, match="not found; set data_loader.args.download=true"):
        mnist.load_mnist(tmp_path, train=True, download=False)


@contextlib.contextmanager
def http_server(folder: Path):
    """A local HTTP server of ``folder``: its URL (torchvision downloads over HTTP)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def test_download_uses_next_mirror_and_checks_md5(tmp_path, data_dir, monkeypatch):
    served = data_dir / "MNIST" / "raw"
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in served.iterdir()}
    monkeypatch.setattr(mnist.MNIST, "resources", list(md5.items()))
    with http_server(served.parent) as url:
        monkeypatch.setattr(mnist.MNIST, "mirrors", [url + "nowhere/", url + "raw/"])
        images, labels = mnist.load_mnist(tmp_path / "downloaded", train=False)
    assert torch.equal(images, mnist.load_mnist(data_dir, train=False)[0])
    assert len(labels) == 160


def test_download_with_wrong_md5_is_refused_and_leaves_no_file(tmp_path, data_dir, monkeypatch):
    served = write_mnist(tmp_path / "mirror") / "MNIST" / "raw"
    target = tmp_path / "downloaded"
    with http_server(served) as url, pytest.raises(InputError, match="MD5 mismatch"):
        monkeypatch.setattr(mnist.MNIST, "mirrors", [url])
        mnist.load_mnist(target, train=True)
    assert not any((target / "MNIST" / "raw").iterdir())
