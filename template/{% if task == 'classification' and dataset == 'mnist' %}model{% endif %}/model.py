"""The models ``arch.type`` may name: MNIST digits' (model/digits.py) and pretrained ones."""

from model.digits import MnistModel, MnistNet
from model.pretrained import TimmModel, TorchvisionModel

__all__ = ["MnistModel", "MnistNet", "TimmModel", "TorchvisionModel"]
