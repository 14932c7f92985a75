"""Pretrained torchvision and timm models: a ``backbone`` (pretrained) and a new ``head``."""

import difflib
from importlib import import_module
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from base import BaseModel
from utils.checkpoint import load_weights
from utils.util import InputError

FILES = (".pth", ".safetensors")  # weights given as a state dict file
UNSUPPORTED = ("googlenet", "inception", "squeezenet", "lraspp")  # several outputs or no Linear


class Pretrained(BaseModel):
    # from_scratch: the args without the pretrained weights, for a checkpoint's (init_model)
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


class TorchvisionModel(Pretrained):
    """torchvision.models' ``name``; ``weights``: an enum's (cached or downloaded), a file, null."""

    from_scratch = {"weights": None}
    library, options = "torchvision.models", {}  # where the names are, what get_model is given

    def __init__(self, name: str, weights: str | None = None, num_classes=1000, in_channels=3):
        super().__init__()
        from torchvision import models

        enum = weights is not None and Path(weights).suffix not in FILES
        try:
            network = models.get_model(name, weights=weights if enum else None, **self.options)
        except OSError as err:  # neither cached nor downloadable: urllib's URLError
            url = models.get_model_weights(name)[weights].url
            file = Path(torch.hub.get_dir(), "checkpoints", Path(url).name)
            raise InputError(
                f"arch.args.weights: {name}'s {weights} weights are not in {file} and could not "
                f"be downloaded ({err}); download {url} elsewhere into {file.parent}/, or give "
                "the path of a .pth or .safetensors state dict as arch.args.weights"
            ) from None
        if weights is not None and not enum:
            pth = not weights.endswith(".safetensors")
            state = torch.load(weights, "cpu", weights_only=True) if pth else load_file(weights)
            load_weights(network, state, weights)
        if in_channels == 1:  # the RGB filters summed, as timm adapts them
            conv = next(m for m in network.modules() if isinstance(m, nn.Conv2d))
            conv.weight, conv.in_channels = nn.Parameter(conv.weight.sum(1, keepdim=True)), 1
        self.backbone, self.head = self.split(network, num_classes)

    @staticmethod
    def split(network: nn.Module, num_classes: int) -> tuple[nn.Module, nn.Module]:
        """The network without its last Linear layer, and a new one for ``num_classes``."""
        last = [name for name, m in network.named_modules() if isinstance(m, nn.Linear)][-1]
        head = nn.Linear(network.get_submodule(last).in_features, num_classes)
        network.set_submodule(last, nn.Identity())
        return network, head

    @classmethod
    def check(cls, args: dict) -> tuple | None:
        """Check ``name`` and ``weights`` on reading the config; the weights' mean and std."""
        from torchvision import models

        module = import_module(cls.library)
        names = [n for n in models.list_models(module) if not n.startswith(UNSUPPORTED)]
        if (name := args.get("name")) not in names:
            raise unknown(name, names, "torchvision.models.list_models")
        if (weights := args.get("weights")) is None or Path(weights).suffix in FILES:
            if weights is not None and not Path(weights).is_file():
                raise InputError(f"arch.args.weights: no file {weights}")
            return None
        if weights not in (members := models.get_model_weights(name).__members__):
            raise InputError(
                f"arch.args.weights: {weights!r} is no weights of {name}; choose from "
                f"{', '.join(members)}, null, or the path of a .pth or .safetensors state dict"
            )
        transforms = members[weights].transforms()
        return transforms.mean, transforms.std


class TimmModel(Pretrained):
    """timm's ``name``: ``pretrained`` from the Hugging Face Hub, or a local ``checkpoint`` file."""

    from_scratch = {"pretrained": False, "checkpoint": None}

    def __init__(self, name, pretrained=False, checkpoint=None, num_classes=1000, in_channels=3):
        super().__init__()
        import timm

        file = {"pretrained_cfg_overlay": {"file": checkpoint}} if checkpoint else {}
        try:  # timm fits the first convolution to in_chans; no classifier: the head is ours
            self.backbone = timm.create_model(
                name, pretrained or bool(checkpoint), num_classes=0, in_chans=in_channels, **file
            )
        except (OSError, RuntimeError) as err:  # offline, or a file of another model
            raise InputError(
                f"arch.args: timm could not load {name}'s weights ({str(err).splitlines()[0]}); "
                "give a local file as arch.args.checkpoint"
            ) from None
        self.head = nn.Linear(self.backbone.head_hidden_size, num_classes)

    @staticmethod
    def check(args: dict) -> tuple | None:
        """Check ``name`` on reading the config; the mean and std of its pretrained_cfg."""
        try:
            import timm
        except ImportError:
            raise InputError('arch.type TimmModel needs timm: pip install -e ".[timm]"') from None
        if (config := timm.get_pretrained_cfg(name := args.get("name"))) is None:
            raise unknown(name, timm.list_models(), "timm.list_models")
        return config.mean, config.std


def unknown(name: str, names: list[str], where: str) -> InputError:
    close = ", ".join(difflib.get_close_matches(str(name), names, 3, 0.4)) or "none"
    return InputError(f"arch.args.name: {name!r} is not in {where}(); the closest: {close}")
