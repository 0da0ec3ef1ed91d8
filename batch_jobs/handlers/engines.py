"""Inference engines for darknet YOLO networks: ONNX Runtime (default), OpenCV DNN, OpenVINO.

Every engine takes the same input blob (batch × 3 × H × W, RGB in [0, 1]) and returns one array of rows
per [yolo] layer, in OpenCV's layout, so that the handler's post-processing is shared. ONNX Runtime and
OpenVINO run the model converted by `darknet_onnx`; OpenCV reads the darknet files directly.
"""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from .handler_errors import ModelFileError, ToolError, UsageError

log = logging.getLogger("avgen.handlers.engines")

ENGINES = ("onnxruntime", "opencv", "openvino")
DEFAULT_ENGINE = "onnxruntime"
BACKENDS = ("auto", "cpu", "cuda")
PRECISIONS = ("f32", "bf16")  # OpenVINO only: bf16 uses AMX / AVX-512 BF16 where the CPU has them
# OpenVINO's bf16 kernels run a few frames at once faster than one by one (the only engine that gains:
# docs/performance.md); a video's frames go to it in runs of up to this many.
BF16_FRAMES_PER_RUN = 4
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
PROBE_SEED = 13
# ONNX Runtime's threads spin between operators for lower latency. A warm handler turns that off: it
# shares the machine with other containers' handlers (local runs, the sandbox), where spinning threads
# take the cores the others compute on (measured here: two containers' calls 0.22 s with it, 0.17 s without).
ALLOW_SPINNING = True


def cpu_hint() -> str:
    """What a CPU-only error adds in a GPU job: how to allow the CPU."""
    from lambda_src.config import ALLOW_CPU_VARIABLE, REQUIRE_GPU_VARIABLE

    if os.environ.get(REQUIRE_GPU_VARIABLE) == "1":
        return f"; this GPU job refuses the CPU ({REQUIRE_GPU_VARIABLE}=1): set {ALLOW_CPU_VARIABLE}=1 to allow it"
    return ""


class Engine(Protocol):
    name: str
    description: str  # for the log: where and how it runs
    # frames a video's run takes at once where the engine gains from batches (OpenVINO bf16); 1 elsewhere.
    # A batched run's outputs are batch × rows × (5 + classes), one block per frame.
    frames_per_run: int

    def run(self, blob: np.ndarray) -> list[np.ndarray]: ...


def available_cpus() -> int:
    """The cores this process may run on (a container's or taskset's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def opencv_cuda_devices() -> int:
    import cv2

    try:
        return cv2.cuda.getCudaEnabledDeviceCount()
    except cv2.error:  # builds without the CUDA module raise instead of answering 0
        return 0


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"{what} must be one of {', '.join(choices)}, not {value!r}")


class OpenCvEngine:
    name = "opencv"
    frames_per_run = 1

    def __init__(self, cfg: Path, weights: Path, *, backend: str, threads: int, low_memory: bool):
        import cv2

        devices = opencv_cuda_devices()
        if backend == "cuda" and devices == 0:
            raise ToolError("CUDA backend requested but this OpenCV build sees no CUDA device")
        use_cuda = backend == "cuda" or (backend == "auto" and devices > 0)
        cv2.setNumThreads(threads)
        try:
            self.net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
        except cv2.error as error:
            raise ModelFileError(f"OpenCV cannot load {cfg.name} with {weights.name}: {_last_line(error)}") from None
        if low_memory:
            self.net.enableWinograd(False)  # YOLOv3 peaks at ~0.6 GB instead of ~1.8 GB
        if use_cuda:
            self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA)
            self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CUDA)
        else:
            self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self.output_layers = list(self.net.getUnconnectedOutLayersNames())
        reason = "as requested" if backend != "auto" else "CUDA device found" if use_cuda else "no CUDA device"
        self.description = (f"the OpenCV DNN {'CUDA' if use_cuda else 'CPU'} backend ({reason}; "
                            f"{cv2.getNumThreads()} CPU threads)")

    def run(self, blob: np.ndarray) -> list[np.ndarray]:
        self.net.setInput(blob)
        return list(self.net.forward(self.output_layers))


class OnnxRuntimeEngine:
    name = "onnxruntime"
    frames_per_run = 1  # measured: no gain from batches on CPU (docs/performance.md)

    def __init__(self, onnx_path: Path, *, backend: str, threads: int, low_memory: bool):
        try:
            import onnxruntime
        except ImportError:
            raise ToolError("the onnxruntime engine needs the onnxruntime (or onnxruntime-gpu) package") from None
        available = onnxruntime.get_available_providers()
        if backend == "cuda" and CUDA_PROVIDER not in available:
            raise ToolError("CUDA backend requested but ONNX Runtime has no CUDA provider "
                            f"(it has {', '.join(available)}): install onnxruntime-gpu"
                            + cpu_hint())
        if backend != "cpu" and CUDA_PROVIDER in available and hasattr(onnxruntime, "preload_dlls"):
            # the CUDA and cuDNN libraries of NVIDIA's wheels (a GPU image's), found where pip put them
            with contextlib.suppress(Exception):
                onnxruntime.preload_dlls()
        wanted = [CUDA_PROVIDER, CPU_PROVIDER] if backend != "cpu" and CUDA_PROVIDER in available else [CPU_PROVIDER]
        options = _onnx_session_options(onnxruntime, threads, low_memory)
        self.session = onnxruntime.InferenceSession(str(onnx_path), options, providers=wanted)
        used = self.session.get_providers()
        if backend == "cuda" and CUDA_PROVIDER not in used:
            raise ToolError("CUDA backend requested but ONNX Runtime could not start its CUDA provider "
                            "(no GPU or CUDA libraries)" + cpu_hint())
        self.input_name = self.session.get_inputs()[0].name
        if CUDA_PROVIDER in used:
            self.description = f"ONNX Runtime {onnxruntime.__version__} with the CUDA execution provider (GPU)"
        else:
            why = ("as requested" if backend == "cpu"
                   else "CUDA provider unavailable" if CUDA_PROVIDER in wanted
                   else "no CUDA provider installed")
            self.description = f"ONNX Runtime {onnxruntime.__version__} on CPU ({why}; {threads} threads)"

    def run(self, blob: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: blob})


def _onnx_session_options(onnxruntime, threads: int, low_memory: bool):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads  # its own default counts physical cores: half of a vCPU share
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    if not ALLOW_SPINNING:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if low_memory:
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
    return options


class OpenVinoEngine:
    name = "openvino"
    frames_per_run = 1

    def __init__(self, onnx_path: Path, *, backend: str, threads: int, precision: str):
        if backend == "cuda":
            raise UsageError("the openvino engine runs on CPU only: use --engine onnxruntime for CUDA")
        try:
            import openvino
        except ImportError:
            raise ToolError("the openvino engine needs the openvino package (pip install openvino)") from None
        core = openvino.Core()
        config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads}
        self.compiled = core.compile_model(str(onnx_path), "CPU", config)
        self.request = self.compiled.create_infer_request()
        actual = self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self.frames_per_run = BF16_FRAMES_PER_RUN if precision == "bf16" else 1
        self.description = f"OpenVINO {openvino.__version__} on CPU (precision {actual}; {threads} threads)"

    def run(self, blob: np.ndarray) -> list[np.ndarray]:
        self.request.infer({0: blob})
        return [self.request.get_output_tensor(i).data.copy() for i in range(len(self.compiled.outputs))]


def _last_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def _probe_blob(width: int, height: int) -> np.ndarray:
    """A deterministic picture-like input: smooth gradients with some texture."""
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(PROBE_SEED)
    planes = [(rows / height), (columns / width), 0.5 + 0.5 * np.sin(rows / 7) * np.cos(columns / 11)]
    image = np.stack(planes) * 0.8 + 0.2 * rng.random((3, height, width), dtype=np.float32)
    return image[np.newaxis].astype(np.float32)


def outputs_agree(
    ours: list[np.ndarray], reference: list[np.ndarray], tolerance: float, threshold: float
) -> float | None:
    """The largest difference between two engines' rows, or None when they agree.

    A class score within `tolerance` of the [yolo] threshold may be kept by one engine and zeroed by the
    other: such a pair is not a disagreement.
    """
    largest = 0.0
    for mine, theirs in zip(ours, reference, strict=True):
        mine = mine.reshape(theirs.shape)
        difference = np.abs(mine - theirs)
        near_threshold = (np.minimum(mine, theirs) == 0) & (np.abs(np.maximum(mine, theirs) - threshold) <= tolerance)
        difference[near_threshold] = 0
        largest = max(largest, float(difference.max(initial=0.0)))
    return None if largest <= tolerance else largest


def opencv_cross_check(cfg: Path, weights: Path, width: int, height: int) -> Callable[[Path], None]:
    """A check for a freshly converted model: ONNX Runtime's outputs must equal OpenCV DNN's on a probe."""
    from .darknet_onnx import DEFAULT_YOLO_THRESHOLD, PROBE_TOLERANCE

    def check(onnx_path: Path) -> None:
        import onnxruntime

        blob = _probe_blob(width, height)
        reference = OpenCvEngine(cfg, weights, backend="cpu", threads=available_cpus(), low_memory=True).run(blob)
        session = onnxruntime.InferenceSession(str(onnx_path), providers=[CPU_PROVIDER])
        converted = session.run(None, {session.get_inputs()[0].name: blob})
        difference = outputs_agree(converted, reference, PROBE_TOLERANCE, DEFAULT_YOLO_THRESHOLD)
        if difference is not None:
            raise ModelFileError(f"the ONNX conversion of {cfg.name} differs from OpenCV DNN by {difference:.3g}: "
                                 "use --engine opencv and report this")
        log.debug("converted model matches OpenCV DNN on the probe input")

    return check


def default_engine() -> str:
    """ONNX Runtime where it is installed, else OpenCV DNN (images built without it: old glibc)."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None:
        return DEFAULT_ENGINE
    log.warning("onnxruntime or onnx is not installed: using the opencv engine")
    return "opencv"


def gpu_required() -> bool:
    """A GPU function's Batch job ($AVGEN_REQUIRE_GPU=1): a job that asked for (and pays for) a GPU does not run
    on the CPU unnoticed, unless $AVGEN_ALLOW_CPU=1 lets it."""
    from lambda_src.config import ALLOW_CPU_VARIABLE, REQUIRE_GPU_VARIABLE

    return os.environ.get(REQUIRE_GPU_VARIABLE) == "1" and os.environ.get(ALLOW_CPU_VARIABLE) != "1"


def required_backend(backend: str) -> str:
    """`auto` in a GPU function's job means `cuda` (gpu_required)."""
    return "cuda" if backend == "auto" and gpu_required() else backend


def open_engine(name: str, cfg: Path, weights: Path, *, input_width: int, input_height: int, backend: str = "auto",
                threads: int = 0, low_memory: bool = False, precision: str = "f32") -> Engine:
    """An engine running the darknet network of CFG + WEIGHTS (already checked against each other)."""
    _check_choice("engine", name, ENGINES)
    _check_choice("backend", backend, BACKENDS)
    _check_choice("precision", precision, PRECISIONS)
    backend = required_backend(backend)
    threads = threads or available_cpus()
    if name == "opencv":
        return OpenCvEngine(cfg, weights, backend=backend, threads=threads, low_memory=low_memory)
    from .darknet_onnx import converted_model_path

    onnx_path = converted_model_path(cfg, weights, verify=opencv_cross_check(cfg, weights, input_width, input_height))
    if name == "openvino":
        return OpenVinoEngine(onnx_path, backend=backend, threads=threads, precision=precision)
    return OnnxRuntimeEngine(onnx_path, backend=backend, threads=threads, low_memory=low_memory)
