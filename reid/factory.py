"""Build the configured ReID embedder from typed arguments (the runner reads the config)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from models.registry import resolve_model
from models.runtime import ModelRunner, import_backend, open_runner
from reid.conventions import VEHICLE_REID, InputConvention, check_convention, declared_convention
from reid.embedder import IMAGENET_MEAN, IMAGENET_STD, ModelEmbedder


def build_embedder(
    backend: str = "onnxruntime",
    model: str = "vehicle_reid_mnv2_aic_vn2cam.onnx",
    opts: str = "",
    checkpoint: str = "",
    input_size: Sequence[int] = (224, 224),
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    batch_size: int = 32,
    fp16: bool = False,
    device: str = "cpu",
    threads: int = 0,
    parallel: bool = True,
    open_model: Callable[..., ModelRunner] = open_runner,
    channel_order: str = "rgb",
    flip: bool = False,
) -> ModelEmbedder:
    """An embedder; ``model`` is the ONNX/IR/engine file, except for torch (``opts`` + ``checkpoint``).

    The input convention (size, channel order, mean/std) is checked against what the model
    declares (``reid.conventions``); a mismatch raises ``ValueError`` naming the config keys.
    ``open_model`` loads the network (``models.runtime.open_runner`` or a caching wrapper).
    """
    if backend == "torch":
        import_backend("torch", "torch")  # a clear message when the extra is missing
        from reid.torch_backend import TorchRunner, input_size_from_opts, load_checkpoint_module, read_opts
        from reid.vehicle_reid import is_vehicle_reid_opts

        opts_mapping = read_opts(opts)
        size = input_size_from_opts(opts_mapping, (int(input_size[0]), int(input_size[1])))
        convention = _convention(size, channel_order, mean, std)
        if is_vehicle_reid_opts(opts_mapping):
            check_convention(convention, VEHICLE_REID, f"the vehicle_reid checkpoint of {opts}")
        runner = TorchRunner(load_checkpoint_module(opts, checkpoint), size, threads=threads)
        return ModelEmbedder(runner, size, mean, std, batch_size, channel_order, flip)
    path = resolve_model(model)
    runner = open_model(path, backend, device, threads, fp16, parallel=parallel)
    convention = _convention(input_size, channel_order, mean, std)
    check_convention(
        convention, declared_convention(Path(path), runner.input_shape, runner.metadata), Path(path).name
    )
    return ModelEmbedder(runner, input_size, mean, std, batch_size, channel_order, flip)


def _convention(
    size: Sequence[int], channel_order: str, mean: Sequence[float], std: Sequence[float]
) -> InputConvention:
    return InputConvention(
        (int(size[0]), int(size[1])),
        channel_order,
        (float(mean[0]), float(mean[1]), float(mean[2])),
        (float(std[0]), float(std[1]), float(std[2])),
    )
