"""Build the configured ReID embedder from typed arguments (the runner reads the config)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from models.registry import resolve_model
from models.runtime import ModelRunner, open_runner
from reid.embedder import IMAGENET_MEAN, IMAGENET_STD, ModelEmbedder


def build_embedder(
    backend: str = "onnxruntime",
    model: str = "mobilenetv2_imagenet_features.onnx",
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
) -> ModelEmbedder:
    """An embedder; ``model`` is the ONNX/IR/engine file, except for torch (``opts`` + ``checkpoint``).

    ``open_model`` loads the network (``models.runtime.open_runner`` or a caching wrapper).
    """
    if backend == "torch":
        from reid.torch_backend import TorchRunner, input_size_from_opts, load_checkpoint_module, read_opts

        size = input_size_from_opts(read_opts(opts), (int(input_size[0]), int(input_size[1])))
        runner = TorchRunner(load_checkpoint_module(opts, checkpoint), size)
        return ModelEmbedder(runner, size, mean, std, batch_size)
    runner = open_model(resolve_model(model), backend, device, threads, fp16, parallel=parallel)
    return ModelEmbedder(runner, input_size, mean, std, batch_size)
