"""Model runtimes behind one small interface, so detectors and embedders swap backends by config.

A ``ModelRunner`` takes one NCHW float32 batch and returns the model's outputs as numpy
arrays. Backends: ONNX Runtime (CPU; CUDA and TensorRT execution providers with
``onnxruntime-gpu``), OpenVINO (CPU; ``.xml`` IR or ``.onnx``), TensorRT engines.
Each is imported only when chosen, and a missing package or device is reported with the
install command instead of an import traceback.

Nothing phones home: ``import openvino`` sends a usage event through the ``openvino-telemetry``
package unless it is absent, so ``import_openvino`` blocks that package for the process first
and OpenVINO falls back to its own no-op stub.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

RUNTIMES = ("onnxruntime", "openvino", "tensorrt")
MAX_CHUNK = 4  # rows per concurrent request; small chunks stay in cache (see bench/bench_inference.py)
SUFFIX_BACKENDS = {".onnx": "onnxruntime", ".xml": "openvino", ".engine": "tensorrt", ".trt": "tensorrt"}


ORT_EXECUTION_MODES = ("sequential", "parallel")
ORT_GRAPH_OPTIMIZATIONS = ("disable", "basic", "extended", "all")
OPENVINO_HINTS = ("", "latency", "throughput")


@dataclass(frozen=True)
class SessionOptions:
    """How the runtimes run a model (``SYSTEM.ORT_*``, ``SYSTEM.OPENVINO_HINT``).

    ``ort_execution_mode`` "parallel" runs independent graph branches concurrently (inter-op
    threads); ``ort_graph_optimization`` is ONNX Runtime's level (int8 QDQ models need
    "extended" or "all" to fuse); ``openvino_hint`` "" keeps OpenVINO's own default,
    "throughput" makes one stream per core (for concurrent requests), "latency" one stream.
    """

    ort_execution_mode: str = "sequential"
    ort_graph_optimization: str = "all"
    openvino_hint: str = ""


class BackendUnavailableError(RuntimeError):
    """The chosen backend or device cannot run here; the message says what to install or change."""


class ModelRunner(Protocol):
    """One loaded model: ``run`` takes an NCHW float32 batch and returns every output."""

    input_shape: tuple[int | None, ...]  # None for dynamic dimensions
    output_shapes: list[tuple[int | None, ...]]
    output_names: list[str]
    metadata: dict[str, str]

    def run(self, batch: np.ndarray) -> list[np.ndarray]: ...


def import_backend(package: str, extra: str) -> Any:
    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise BackendUnavailableError(
            f"the '{package}' package is needed for this backend but cannot be imported ({err}); "
            f"install it with: pip install 'vehicle-mtmc[{extra}]'"
        ) from err


def import_openvino() -> Any:
    """``openvino`` with its telemetry package blocked (a ``None`` entry makes its import fail)."""
    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    return import_backend("openvino", "openvino")


def openvino_precision(core: Any, fp16: bool) -> str:
    """f32, or with ``fp16`` bf16 where the CPU has it (AVX512-BF16/AMX) and f16 elsewhere."""
    if not fp16:
        return "f32"
    return "bf16" if "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES") else "f16"


def _shape(dims: Sequence[Any]) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) and d > 0 else None for d in dims)


def _dims(partial_shape: Any) -> list[int]:
    """An OpenVINO partial shape as ints, -1 for dynamic dimensions."""
    return [d.get_length() if d.is_static else -1 for d in partial_shape]


def split_batch(batch: np.ndarray, requests: int) -> list[np.ndarray]:
    """Chunks of at most ``MAX_CHUNK`` rows, enough to keep ``requests`` workers busy."""
    size = max(1, min(MAX_CHUNK, math.ceil(len(batch) / requests)))
    return [batch[i : i + size] for i in range(0, len(batch), size)]


def ort_session_options(ort: Any, options: SessionOptions, threads: int, parallel: int) -> Any:
    """ONNX Runtime ``SessionOptions``: one thread per request with ``parallel``, else ``threads``."""
    levels = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    session = ort.SessionOptions()
    session.graph_optimization_level = levels[options.ort_graph_optimization]
    if parallel > 1:
        session.intra_op_num_threads = 1
    elif threads:
        session.intra_op_num_threads = threads
    if options.ort_execution_mode == "parallel":
        session.execution_mode = ort.ExecutionMode.ORT_PARALLEL
        session.inter_op_num_threads = 1 if parallel > 1 else threads
    else:
        session.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session.inter_op_num_threads = 1
    return session


class OnnxRuntimeRunner:
    """ONNX Runtime session; ``session.run`` is thread-safe, so one runner serves many cameras.

    With ``parallel`` > 1, a batch is cut into small chunks run concurrently by single-threaded
    requests: on few cores this beats one multi-threaded run of the whole batch (measured for
    MobileNetV2 on 2 cores: 3.6 vs 4.3 ms per crop, see bench/bench_inference.py).
    """

    def __init__(
        self,
        path: Path,
        device: str = "cpu",
        threads: int = 0,
        tensorrt_provider: bool = False,
        parallel: int = 1,
        options: SessionOptions = SessionOptions(),
    ) -> None:
        ort = import_backend("onnxruntime", "gpu" if device == "cuda" else "dev")
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            wanted = (
                ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
                if tensorrt_provider
                else ["CUDAExecutionProvider"]
            )
            available = ort.get_available_providers()
            missing = [p for p in wanted if p not in available]
            if missing:
                raise BackendUnavailableError(
                    f"SYSTEM.DEVICE 'cuda' needs ONNX Runtime's {', '.join(missing)}, but this onnxruntime "
                    f"offers {', '.join(available)}; install 'vehicle-mtmc[gpu]' (onnxruntime-gpu) on a "
                    "machine with an NVIDIA GPU, or set SYSTEM.DEVICE cpu"
                )
            providers = [*wanted, "CPUExecutionProvider"]
        session_options = ort_session_options(ort, options, threads, parallel)
        self.parallel = parallel
        if parallel > 1:
            self._pool = ThreadPoolExecutor(parallel, thread_name_prefix="ort")
        try:
            self.session = ort.InferenceSession(str(path), sess_options=session_options, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types
            raise ValueError(f"{path}: ONNX Runtime cannot load this model ({err})") from err
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_shape = _shape(inp.shape)
        self.output_shapes = [_shape(o.shape) for o in self.session.get_outputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.parallel == 1 or len(batch) == 1:
            return self.session.run(None, {self.input_name: batch})
        parts = list(
            self._pool.map(
                lambda b: self.session.run(None, {self.input_name: b}), split_batch(batch, self.parallel)
            )
        )
        return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]


class OpenVinoRunner:
    """OpenVINO compiled model on the CPU; requests are per calling thread, so it is thread-safe.

    ``fp16`` asks for half-precision inference (bf16 on CPUs with AVX512-BF16 or AMX, where it
    is about twice as fast; plain f16 is slower than f32 on such CPUs). With ``parallel`` > 1, the
    model gets that many streams and a batch runs as concurrent small requests.
    """

    def __init__(
        self,
        path: Path,
        device: str = "cpu",
        threads: int = 0,
        fp16: bool = False,
        parallel: int = 1,
        dynamic_batch: bool = False,
        options: SessionOptions = SessionOptions(),
        input_hw: Sequence[int] = (),
    ) -> None:
        if device != "cpu":
            raise BackendUnavailableError("the openvino backend runs on the CPU here; set SYSTEM.DEVICE cpu")
        ov = import_openvino()
        core = ov.Core()
        self._ov = ov
        self.precision = openvino_precision(core, fp16)
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": self.precision}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.parallel = parallel
        if options.openvino_hint:
            config["PERFORMANCE_HINT"] = options.openvino_hint.upper()
        if parallel > 1:
            config["NUM_STREAMS"] = parallel
        try:
            model = core.read_model(str(path))
            static_outputs = [_shape(_dims(out.get_partial_shape())) for out in model.outputs]
            if dynamic_batch or input_hw:
                shape = model.inputs[0].get_partial_shape()
                if dynamic_batch:  # a fixed batch of 1 in the file: let it take any batch
                    shape[0] = -1
                if input_hw:  # another input size (SSD detectors reshape: their priors follow it)
                    shape[2], shape[3] = int(input_hw[0]), int(input_hw[1])
                model.reshape({model.inputs[0]: shape})
            self.compiled = core.compile_model(model, "CPU", config)
        except Exception as err:  # OpenVINO raises RuntimeError subclasses of its own
            raise ValueError(f"{path}: OpenVINO cannot load this model ({err})") from err
        self.input_shape = _shape(
            [d.get_length() if d.is_static else -1 for d in model.inputs[0].get_partial_shape()]
        )
        self.output_shapes = [_shape(_dims(out.get_partial_shape())) for out in model.outputs]
        if dynamic_batch:  # reshaping may leave every output dimension dynamic: only the batch is
            self.output_shapes = [(None, *static[1:]) for static in static_outputs]
        self.output_names = [out.get_any_name() for out in model.outputs]
        self.metadata: dict[str, str] = {}
        self._local = threading.local()

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.parallel > 1 and len(batch) > 1:
            return self._run_parallel(batch)
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        request.infer({0: batch}, share_inputs=True)  # no copy: ``batch`` outlives the synchronous call
        return [np.array(request.get_output_tensor(i).data) for i in range(len(self.output_shapes))]

    def _run_parallel(self, batch: np.ndarray) -> list[np.ndarray]:
        queue = getattr(self._local, "queue", None)
        if queue is None:
            queue = self._local.queue = self._ov.AsyncInferQueue(self.compiled, 2 * self.parallel)
        chunks = split_batch(batch, self.parallel)
        results: list[list[np.ndarray]] = [[] for _ in chunks]

        def collect(request: Any, index: int) -> None:
            results[index] = [
                np.array(request.get_output_tensor(i).data) for i in range(len(self.output_shapes))
            ]

        queue.set_callback(collect)
        for index, chunk in enumerate(chunks):
            queue.start_async({0: chunk}, index)
        queue.wait_all()
        return [np.concatenate([r[i] for r in results]) for i in range(len(self.output_shapes))]


class TensorRTRunner:
    """A serialized TensorRT engine (TensorRT 10 tensor API) with CUDA buffers from cuda-python."""

    def __init__(self, path: Path) -> None:
        trt = import_backend("tensorrt", "gpu")
        self._cudart = import_backend("cuda.cudart", "gpu")
        err, count = self._cudart.cudaGetDeviceCount()
        if int(err) != 0 or count == 0:
            raise BackendUnavailableError("TensorRT engines need an NVIDIA GPU, and CUDA reports none here")
        logger = trt.Logger(trt.Logger.WARNING)
        with path.open("rb") as f, trt.Runtime(logger) as runtime:
            self.engine = runtime.deserialize_cuda_engine(f.read())
        if self.engine is None:
            raise ValueError(
                f"{path}: TensorRT cannot deserialize this engine (built for another TensorRT/GPU?)"
            )
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output_names = [n for n in names if n != self.input_name]
        self.input_shape = _shape(self.engine.get_tensor_shape(self.input_name))
        self.output_shapes = [_shape(self.engine.get_tensor_shape(n)) for n in self.output_names]
        self.metadata: dict[str, str] = {}
        self._lock = threading.Lock()

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        cudart = self._cudart
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        with self._lock:  # one execution context: serialise callers
            self.context.set_input_shape(self.input_name, batch.shape)
            outputs = [
                np.empty(tuple(self.context.get_tensor_shape(n)), np.float32) for n in self.output_names
            ]
            buffers = [self._malloc(a.nbytes) for a in (batch, *outputs)]
            try:
                kind = cudart.cudaMemcpyKind
                cudart.cudaMemcpy(buffers[0], batch.ctypes.data, batch.nbytes, kind.cudaMemcpyHostToDevice)
                for name, ptr in zip((self.input_name, *self.output_names), buffers, strict=True):
                    self.context.set_tensor_address(name, ptr)
                if not self.context.execute_async_v3(0):
                    raise RuntimeError("TensorRT execution failed")
                cudart.cudaStreamSynchronize(0)
                for out, ptr in zip(outputs, buffers[1:], strict=True):
                    cudart.cudaMemcpy(out.ctypes.data, ptr, out.nbytes, kind.cudaMemcpyDeviceToHost)
            finally:
                for ptr in buffers:
                    cudart.cudaFree(ptr)
        return outputs

    def _malloc(self, nbytes: int) -> int:
        err, ptr = self._cudart.cudaMalloc(nbytes)
        if int(err) != 0:
            raise RuntimeError(f"cudaMalloc of {nbytes} bytes failed ({err})")
        return int(ptr)


def detector_backend(model: str, backend: str) -> str:
    """The backend ``auto`` stands for, by suffix (a manifest name by its file's suffix);
    ``.pt``, ``.yaml`` and other bare names mean ultralytics."""
    if backend != "auto":
        return backend
    suffix = Path(model).suffix.lower()
    if suffix not in SUFFIX_BACKENDS:
        from models.registry import manifest_entry

        entry = manifest_entry(model)
        suffix = Path(entry.file).suffix.lower() if entry is not None else suffix
    return SUFFIX_BACKENDS.get(suffix, "ultralytics")


def open_runner(
    path: str | Path,
    backend: str,
    device: str = "cpu",
    threads: int = 0,
    fp16: bool = False,
    parallel: bool = False,
    dynamic_batch: bool = False,
    options: SessionOptions = SessionOptions(),
    input_hw: Sequence[int] = (),
    concurrent: int = 1,
) -> ModelRunner:
    """Load ``path`` with ``backend`` (one of ``RUNTIMES``) and the runtimes' ``options``.

    ``parallel`` (for batched models such as embedders): run batches as concurrent
    single-threaded requests, one per thread of ``threads`` (0: one per core).
    ``concurrent``: how many threads will call ``run`` at once (``MOT.DETECTION_WORKERS``).
    ONNX Runtime then gives each call its share of the cores, since concurrent runs of one
    session share its thread pool and spin against each other; OpenVINO gets one stream per
    caller. On 2 cores two single-threaded detections at once beat one two-threaded detection
    (``bench/bench_session_options.py``).
    ``dynamic_batch``: let an OpenVINO model saved with batch 1 take any batch.
    ``input_hw``: reshape an OpenVINO model to this input [height, width] (ignored elsewhere:
    ONNX Runtime and TensorRT run the size in the file).
    """
    path = Path(path)
    cores = threads or os.cpu_count() or 1
    requests = cores if parallel else max(1, concurrent)
    if backend == "onnxruntime":
        if fp16:
            log.warning("fp16 is not applied by the onnxruntime backend (it runs the model's own precision)")
        if parallel:
            return OnnxRuntimeRunner(path, device, threads, parallel=requests, options=options)
        session_threads = max(1, cores // requests) if requests > 1 else threads
        return OnnxRuntimeRunner(path, device, session_threads, options=options)
    if backend == "openvino":
        return OpenVinoRunner(
            path,
            device,
            threads,
            fp16,
            parallel=requests,
            dynamic_batch=dynamic_batch,
            options=options,
            input_hw=input_hw,
        )
    if backend == "tensorrt":
        return TensorRTRunner(path)
    raise ValueError(f"unknown runtime backend {backend!r}; expected one of {', '.join(RUNTIMES)}")
