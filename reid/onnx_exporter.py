"""Export a torch ReID model to ONNX with a dynamic batch, then check it against torch.

    python reid/onnx_exporter.py --checkpoint models/mobilenetv2_imagenet_features.pt \
        --output models/mobilenetv2_imagenet_features.onnx --verify-images ../shared/data/images/mercedes.jpg

``--checkpoint`` alone means the MobileNetV2 feature network; pass ``--opts opts.yaml`` for
checkpoints in the original project's style (the seed's vehicle_reid ``net_N.pth``: ResNet(-IBN),
DenseNet, EfficientNet, HRNet/Swin). The ONNX file records its input convention (size, RGB,
ImageNet mean/std) in the metadata ``vehicle_mtmc.input``, which the embedder checks against
the config. The check runs torch and ONNX Runtime on crops
of the ``--verify-images`` (a 3x3 grid of crops each, plus the whole image) and reports the
largest absolute difference; the export fails if it exceeds ``--tolerance``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import warnings
from pathlib import Path

import cv2
import numpy as np

from config.paths import atomic_write
from models.runtime import BackendUnavailableError, import_backend, open_runner
from reid.conventions import METADATA_KEY, InputConvention
from reid.embedder import IMAGENET_MEAN, IMAGENET_STD
from reid.preprocess import to_batch

log = logging.getLogger("reid.onnx_exporter")


def grid_crops(image: np.ndarray, cells: int = 3) -> list[np.ndarray]:
    h, w = image.shape[:2]
    crops = [image]
    for i in range(cells):
        for j in range(cells):
            crops.append(image[i * h // cells : (i + 1) * h // cells, j * w // cells : (j + 1) * w // cells])
    return crops


def export_onnx(module: object, output: Path, input_size: tuple[int, int], opset: int = 17) -> None:
    """Write ``module`` as ONNX (input ``input`` N x 3 x H x W, output ``feat`` N x D) atomically.

    The input convention (``input_size``, RGB, ImageNet mean/std) goes into the metadata.
    """
    torch = import_backend("torch", "torch")
    dummy = torch.zeros(2, 3, *input_size)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp) / "model.onnx"
        # The TorchScript exporter: the torch.export-based one needs onnxscript and gains nothing
        # for a plain CNN; torch marks the former deprecated, hence the filter.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            # IBN's InstanceNorm always normalises with the input's statistics: "train" is right.
            warnings.filterwarnings("ignore", message=".*instance_norm.*", category=UserWarning)
            torch.onnx.export(
                module,
                (dummy,),
                str(tmp_path),
                input_names=["input"],
                output_names=["feat"],
                dynamic_axes={"input": {0: "n"}, "feat": {0: "n"}},
                opset_version=opset,
                dynamo=False,
            )
        _add_convention(tmp_path, InputConvention(input_size))
        with atomic_write(output) as f:
            f.write(tmp_path.read_bytes())


def _add_convention(path: Path, convention: InputConvention) -> None:
    onnx = import_backend("onnx", "torch")
    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(convention.as_dict())
    onnx.save(model, str(path))


def max_abs_difference(module: object, onnx_path: Path, batch: np.ndarray) -> float:
    """Largest |torch - onnxruntime| over every feature of ``batch``."""
    torch = import_backend("torch", "torch")
    with torch.inference_mode():
        expected = module(torch.from_numpy(batch)).numpy()
    actual = open_runner(onnx_path, "onnxruntime").run(batch)[0]
    return float(np.abs(expected - actual).max())


def verification_batch(images: list[Path], input_size: tuple[int, int]) -> np.ndarray:
    crops = []
    for path in images:
        image = cv2.imread(str(path))
        if image is None:
            raise ValueError(f"{path}: cannot read image")
        crops += grid_crops(image)
    if not crops:
        log.warning("no --verify-images given: checking on random inputs instead of real crops")
        return np.random.default_rng(0).normal(size=(8, 3, *input_size)).astype(np.float32)
    return to_batch(crops, input_size, IMAGENET_MEAN, IMAGENET_STD)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export a torch ReID model to ONNX and verify it.")
    parser.add_argument("--checkpoint", required=True, type=Path, help="torch weights (state dict)")
    parser.add_argument("--opts", type=Path, help="opts.yaml naming the architecture (default: mobilenetv2)")
    parser.add_argument("--output", required=True, type=Path, help="ONNX file to write")
    parser.add_argument("--input-size", type=int, nargs=2, default=(224, 224), metavar=("H", "W"))
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--verify-images", type=Path, nargs="*", default=[], help="images to take crops from")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest accepted |torch - onnx|")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        from reid.torch_backend import input_size_from_opts, load_checkpoint_module, read_opts

        if args.opts is None:
            with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
                f.write("model: mobilenetv2\n")
            args.opts = Path(f.name)
        input_size = input_size_from_opts(read_opts(args.opts), tuple(args.input_size))
        module = load_checkpoint_module(args.opts, args.checkpoint)
        export_onnx(module, args.output, input_size, args.opset)
        diff = max_abs_difference(module, args.output, verification_batch(args.verify_images, input_size))
    except (BackendUnavailableError, ValueError, OSError) as err:
        log.error("%s", err)
        return 2
    log.info("wrote %s; max |torch - onnxruntime| = %.3g (tolerance %.1g)", args.output, diff, args.tolerance)
    if diff > args.tolerance:
        log.error("the exported model differs from torch by more than the tolerance")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
