"""Data loaders that config.json's ``data_loader.type`` may name: MNIST digits and their classes."""

from data_loader.mnist import MnistDataLoader

__all__ = ["MnistDataLoader"]
