"""Build a TensorRT engine from an ONNX model (dynamic batch 1..max), for the tensorrt backends.

    python reid/tensorrt_exporter.py --onnx reid.onnx --output reid.engine [--fp16] [--max-batch 32]

Needs the ``gpu`` extra (TensorRT) and an NVIDIA GPU; elsewhere it stops with that message.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from config.paths import atomic_write
from models.runtime import BackendUnavailableError, import_backend

log = logging.getLogger("reid.tensorrt_exporter")


def build_engine(
    onnx_path: Path, output: Path, fp16: bool, max_batch: int, workspace_gb: float = 2.0
) -> None:
    trt = import_backend("tensorrt", "gpu")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ValueError(f"{onnx_path}: TensorRT cannot parse this ONNX model ({errors})")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    inp = network.get_input(0)
    shape = tuple(inp.shape)
    if shape[0] == -1:
        profile = builder.create_optimization_profile()
        rest = shape[1:]
        profile.set_shape(inp.name, (1, *rest), (max(1, max_batch // 2), *rest), (max_batch, *rest))
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT failed to build the engine (see the TensorRT log above)")
    with atomic_write(output) as f:
        f.write(bytes(serialized))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build a TensorRT engine from an ONNX model.")
    parser.add_argument("--onnx", required=True, type=Path)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--fp16", action="store_true", help="allow half-precision kernels")
    parser.add_argument("--max-batch", type=int, default=32)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        build_engine(args.onnx, args.output, args.fp16, args.max_batch)
    except (BackendUnavailableError, ValueError, RuntimeError, OSError) as err:
        log.error("%s", err)
        return 2
    log.info("wrote %s", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
