"""ONNX models from local ``.onnx`` files: checked, loaded once per process, layout verified.

An ``.onnx`` file is a protobuf graph (no pickled code runs on load); other suffixes are refused
so that a PyTorch checkpoint is never handed to onnxruntime by mistake. onnxruntime itself
refuses external-data paths that leave the model's folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import BackendUnavailableError
from pipeline.models.cache import CachedModel, cache_key, get_or_load
from pipeline.models.sources import PICKLE_SUFFIXES, file_sha256

logger = logging.getLogger(__name__)

FLOAT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16"}


@dataclass(frozen=True)
class OnnxLayout:
    """What the model expects: input name, NCHW shape (ints, or strings for dynamic axes), dtype."""

    input_name: str
    input_shape: tuple[int | str, ...]
    input_dtype: str
    output_shape: tuple[int | str, ...]

    def describe(self) -> str:
        return f"input {self.input_name} {'x'.join(map(str, self.input_shape))} {self.input_dtype}"


def check_onnx_file(path: Path) -> Path:
    """The resolved path of an existing ``.onnx`` file.

    BackendUnavailableError when it is missing; ValueError for another suffix (pickled
    checkpoints named), a folder or an empty file.
    """
    suffix = path.suffix.lower()
    if suffix != ".onnx":
        what = "a pickled PyTorch checkpoint" if suffix in PICKLE_SUFFIXES else f"a {suffix or 'suffix-less'} file"
        raise ValueError(f"refusing {path.name!r}: segment.onnx_model must be an .onnx file, this is {what}")
    if not path.exists():
        raise BackendUnavailableError(f"ONNX model not found: {path}")
    if not path.is_file() or path.stat().st_size == 0:
        raise ValueError(f"ONNX model {path} is not a regular non-empty file")
    return path.resolve()


def onnx_providers(device: str) -> list[Any]:
    """Execution providers for ``run.device``: CUDA first when asked for and present, then CPU."""
    import onnxruntime as ort

    if device.startswith("cuda"):
        if "CUDAExecutionProvider" in ort.get_available_providers():
            index = int(device.split(":")[1]) if ":" in device else 0
            return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
        logger.warning("run.device is %s but this onnxruntime has no CUDA provider (install onnxruntime-gpu); "
                       "the ONNX segmenter runs on the CPU", device)
    return ["CPUExecutionProvider"]


def read_layout(session: Any) -> OnnxLayout:
    """The session's input/output layout; ValueError unless it is one NCHW RGB float image in and
    a ``(1, C, h, w)`` or ``(1, h, w)`` map out."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise ValueError(f"expected one input image, the model has {len(inputs)} inputs: {[i.name for i in inputs]}")
    first = inputs[0]
    shape = tuple(d if isinstance(d, int) else str(d) for d in first.shape)
    channels_ok = len(shape) == 4 and (shape[1] == 3 or isinstance(shape[1], str))
    if not channels_ok or first.type not in FLOAT_TYPES:
        raise ValueError(f"expected a float (N, 3, H, W) input, got {first.name} {list(first.shape)} {first.type}")
    out = tuple(d if isinstance(d, int) else str(d) for d in outputs[0].shape)
    if len(out) not in (3, 4):
        raise ValueError(f"expected a (1, C, h, w) or (1, h, w) output, got {outputs[0].name} {list(outputs[0].shape)}")
    return OnnxLayout(first.name, shape, FLOAT_TYPES[first.type], out)


def _load(path: Path, providers: list[Any]) -> tuple[Any, dict[str, Any]]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only; onnxruntime's warnings go to stderr otherwise
    session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    layout = read_layout(session)
    prov = {
        "source": "file",
        "path": str(path),
        "sha256": file_sha256(path),
        "onnxruntime": ort.__version__,
        "providers": session.get_providers(),
        "input_shape": list(layout.input_shape),
    }
    return (session, layout), prov


def load_onnx(model: str | Path, device: str) -> CachedModel[tuple[Any, OnnxLayout]]:
    """The cached ``(onnxruntime.InferenceSession, OnnxLayout)`` for ``model`` on ``device``.

    Raises BackendUnavailableError (missing file), ValueError (not .onnx, bad layout) or
    onnxruntime's own error for a file it cannot parse.
    """
    path = check_onnx_file(Path(model).expanduser())
    providers = onnx_providers(device)
    stat = path.stat()
    key = cache_key({"kind": "onnx", "path": str(path), "size": stat.st_size, "mtime": stat.st_mtime_ns,
                     "providers": providers})
    return get_or_load(key, lambda: _load(path, providers))
