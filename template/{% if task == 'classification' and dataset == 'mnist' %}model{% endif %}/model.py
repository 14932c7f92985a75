"""The models ``arch.type`` may name: MnistNet (model/digits.py) and pretrained ones."""

from model.digits import MnistNet
from model.pretrained import TimmModel, TorchvisionModel

__all__ = ["MnistNet", "TimmModel", "TorchvisionModel"]
