"""Exported models: safetensors weights, torch.export programs (.pt2) and ONNX files. Each holds
the metadata predict.py needs (task, arch, class names, preprocessing, config) as JSON, so that
the .pt2 and .onnx files run without the project's model code."""

import importlib
import json
import logging
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import nn

from utils.checkpoint import load_checkpoint, load_weights, read_weights
from utils.util import InputError, atomic_open

SUFFIXES = {"safetensors": ".safetensors", "pt2": ".pt2", "onnx": ".onnx"}
PROGRAMS = (".pt2", ".onnx")  # what predict.py runs in place of a checkpoint
KEY = "pytorch_template"  # name of the metadata entry in each format
PREPROCESSING = ("image_size", "channels", "mean", "std")
INSTALL = 'pip install -e ".[export]"'


def metadata(config: Any, state: dict[str, Any], task: str) -> dict[str, Any]:
    args = config["data_loader"]["args"]
    return {
        "task": task,
        "arch": config["arch"],
        "class_names": state.get("class_names"),
        "preprocessing": {key: args[key] for key in PREPROCESSING if key in args},
        "config": config.config,
    }


def save(model: nn.Module, example: torch.Tensor, fmt: str, path: Path, meta: dict) -> None:
    """Write ``model`` as ``fmt`` with a dynamic batch size (traced on ``example``)."""
    text, dynamic = json.dumps(meta), ({0: torch.export.Dim("batch", min=1)},)
    if fmt == "safetensors":
        weights = {name: value.contiguous() for name, value in model.state_dict().items()}
        data = safetensors.torch.save(weights, metadata={KEY: text})
    elif fmt == "pt2":
        program = torch.export.export(model, (example,), dynamic_shapes=dynamic)
        with atomic_open(path, "wb") as handle:
            torch.export.save(program, handle, extra_files={KEY: text})
        return
    else:
        require("onnx", "onnxscript", "onnxruntime")
        for name in ("onnxscript", "onnx_ir"):  # their INFO lines on every pass would flood the log
            logging.getLogger(name).setLevel(logging.WARNING)
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,
            dynamic_shapes=dynamic,
            input_names=["input"],
            verbose=False,
        )
        program.model.metadata_props[KEY] = text
        data = program.model_proto.SerializeToString()
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def load(path: Path, device: torch.device, config: Any = None) -> tuple[Any, dict[str, Any]]:
    """The exported model at ``path`` as a callable on ``device`` and its metadata; safetensors
    weights need the project's model code: the arch of ``config``."""
    if not path.is_file():
        raise InputError(f"{path}: file not found; check the path")
    try:
        if path.suffix == ".safetensors":
            model = config.init_obj("arch")
            load_weights(model, read_weights(path), str(path))
            with safetensors.safe_open(path, "pt") as handle:
                return model.eval().to(device), json.loads(handle.metadata()[KEY])
        if path.suffix == ".pt2":
            extra = {KEY: ""}
            program = torch.export.load(path, extra_files=extra)
            return program.module().to(device), json.loads(extra[KEY])
        session = require("onnxruntime").InferenceSession(str(path))
        return OnnxModel(session), json.loads(session.get_modelmeta().custom_metadata_map[KEY])
    except InputError:
        raise
    except Exception as err:  # damaged files make each reader fail its own way
        raise InputError(
            f"{path}: not a model exported by export.py ({type(err).__name__}: "
            f"{str(err).strip().splitlines()[-1][:120] if str(err).strip() else ''})"
        ) from None


def load_state(path: Path) -> dict[str, Any]:
    """A checkpoint, or the metadata of an exported program (with config, task, class_names)."""
    if path.suffix in PROGRAMS:
        return load(path, torch.device("cpu"))[1]
    return load_checkpoint(path)


class OnnxModel:
    """An ONNX Runtime session called like the model: tensor in, tensor out."""

    def __init__(self, session: Any):
        self.session = session

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        outputs = self.session.run(None, {"input": inputs.cpu().numpy()})[0]
        return torch.from_numpy(outputs).to(inputs.device)


def require(*names: str) -> Any:
    """Import the packages of the ``[export]`` extra; their absence names the install command."""
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            raise InputError(f"ONNX export and inference need {name}: {INSTALL}") from None
    return module
