"""darknet `.cfg` + `.weights` → an ONNX model, built with the `onnx` package's helper API.

Covers the layers YOLOv3 and YOLOv3-tiny use: convolutional (batch norm folded into the kernels),
leaky/linear activations, maxpool with darknet's padding, upsample, route, shortcut and yolo. Each
[yolo] layer becomes one output of rows (centre x, centre y, width, height relative to the input,
objectness, objectness × class probability): the rows OpenCV's darknet importer gives, in the same order,
so the handler's post-processing serves every engine.

The converted model is cached next to the weights (or in the model cache when that folder is read-only),
named after a hash of the cfg, the weights and this converter's version, and checked against OpenCV DNN
on a probe image when it is first made: a model that disagrees is never cached.
"""
from __future__ import annotations

import logging
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .darknet import Section, parse_cfg, weights_header_bytes
from .handler_errors import ModelFileError
from .model_files import cache_dir, sha256_of_files

log = logging.getLogger("avgen.handlers.darknet_onnx")

# Bump when the produced graph changes: cached models of an older converter are then made again.
CONVERTER_VERSION = "1"
OPSET = 13  # Resize with `scales` as an input; understood by every ONNX Runtime and OpenVINO in use
INPUT_NAME = "image"
LEAKY_SLOPE = 0.1  # darknet's leaky activation
# darknet normalises with (x - mean) / (sqrt(variance) + .000001f): not the usual sqrt(variance + eps).
DARKNET_BN_EPSILON = 1e-6
# OpenCV's darknet importer zeroes class scores at or below a [yolo] layer's `thresh` (default 0.2);
# the converted model does the same so that both engines report the same detections.
DEFAULT_YOLO_THRESHOLD = 0.2
# A converted model must reproduce OpenCV's outputs this closely on the probe image to be cached.
PROBE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class _Tensor:
    name: str
    channels: int
    height: int
    width: int


class _Weights:
    """darknet's float32 parameters, read in file order."""

    def __init__(self, path: Path):
        with path.open("rb") as handle:
            major, minor = struct.unpack("<ii", handle.read(8))
        self._values = np.fromfile(path, dtype="<f4", offset=weights_header_bytes(major, minor))
        self._position = 0
        self._path = path

    def take(self, count: int) -> np.ndarray:
        if self._position + count > self._values.size:
            raise ModelFileError(f"weights file {self._path} ends before the cfg's last convolution")
        values = self._values[self._position : self._position + count]
        self._position += count
        return values

    def check_all_used(self) -> None:
        if self._position != self._values.size:
            left = self._values.size - self._position
            raise ModelFileError(f"weights file {self._path} has {left} parameters more than its cfg uses")


class _GraphBuilder:
    def __init__(self):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list = []
        self.initializers: list = []
        self._names: set[str] = set()

    def unique(self, base: str) -> str:
        name, suffix = base, 1
        while name in self._names:
            suffix += 1
            name = f"{base}_{suffix}"
        self._names.add(name)
        return name

    def constant(self, base: str, array: np.ndarray) -> str:
        name = self.unique(base)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], base: str, outputs: int = 1, **attributes) -> list[str]:
        names = [self.unique(base if outputs == 1 else f"{base}_{index}") for index in range(outputs)]
        self.nodes.append(self.helper.make_node(op, inputs, names, name=names[0], **attributes))
        return names

    def single(self, op: str, inputs: list[str], base: str, **attributes) -> str:
        return self.node(op, inputs, base, **attributes)[0]


def _option(section: Section, key: str, default, cast=int):
    value = section.options.get(key)
    if value is None:
        return default
    try:
        return cast(value)
    except ValueError:
        raise ModelFileError(f"cfg line {section.line}: '{key}={value}' is not a valid {cast.__name__}") from None


def _number_list(section: Section, key: str, cast=int) -> list:
    text = section.options.get(key, "")
    try:
        return [cast(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ModelFileError(f"cfg line {section.line}: bad list '{key}={text}'") from None


def _convolutional(graph: _GraphBuilder, section: Section, source: _Tensor, weights: _Weights, index: int) -> _Tensor:
    filters, size = _option(section, "filters", 1), _option(section, "size", 1)
    stride, groups = _option(section, "stride", 1), _option(section, "groups", 1)
    padding = size // 2 if _option(section, "pad", 0) else _option(section, "padding", 0)
    activation = section.options.get("activation", "logistic")
    if activation not in ("leaky", "linear"):
        raise ModelFileError(f"cfg line {section.line}: activation '{activation}' is not supported")
    biases = weights.take(filters)
    if _option(section, "batch_normalize", 0):
        scales, means, variances = weights.take(filters), weights.take(filters), weights.take(filters)
        factor = scales / (np.sqrt(variances) + np.float32(DARKNET_BN_EPSILON))
        biases = biases - means * factor
    else:
        factor = np.ones(filters, dtype=np.float32)
    kernel_shape = (filters, source.channels // groups, size, size)
    kernel = weights.take(int(np.prod(kernel_shape))).reshape(kernel_shape) * factor[:, None, None, None]
    output = graph.single(
        "Conv", [source.name, graph.constant(f"conv{index}_w", kernel.astype(np.float32)),
                 graph.constant(f"conv{index}_b", biases.astype(np.float32))],
        f"conv{index}", kernel_shape=[size, size], strides=[stride, stride], pads=[padding] * 4, group=groups)
    if activation == "leaky":
        output = graph.single("LeakyRelu", [output], f"leaky{index}", alpha=LEAKY_SLOPE)
    height = (source.height + 2 * padding - size) // stride + 1
    width = (source.width + 2 * padding - size) // stride + 1
    return _Tensor(output, filters, height, width)


def _maxpool(graph: _GraphBuilder, section: Section, source: _Tensor, index: int) -> _Tensor:
    size = _option(section, "size", 1)
    stride = _option(section, "stride", size)
    # darknet pads size-1 in total by default, the smaller half before: tiny's size-2 stride-1 pool keeps
    # 13×13 by padding only the right and bottom edges.
    padding = _option(section, "padding", size - 1)
    before, after = padding // 2, padding - padding // 2
    output = graph.single("MaxPool", [source.name], f"maxpool{index}", kernel_shape=[size, size],
                          strides=[stride, stride], pads=[before, before, after, after])
    height = (source.height + padding - size) // stride + 1
    width = (source.width + padding - size) // stride + 1
    return _Tensor(output, source.channels, height, width)


def _upsample(graph: _GraphBuilder, section: Section, source: _Tensor, index: int) -> _Tensor:
    stride = _option(section, "stride", 2)
    if _option(section, "scale", 1.0, float) != 1.0:
        raise ModelFileError(f"cfg line {section.line}: [upsample] with scale= is not supported")
    scales = graph.constant(f"upsample{index}_scales", np.array([1, 1, stride, stride], dtype=np.float32))
    output = graph.single("Resize", [source.name, "", scales], f"upsample{index}", mode="nearest",
                          coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    return _Tensor(output, source.channels, source.height * stride, source.width * stride)


def _route(graph: _GraphBuilder, section: Section, outputs: list[_Tensor], index: int) -> _Tensor:
    if _option(section, "groups", 1) != 1:
        raise ModelFileError(f"cfg line {section.line}: [route] with groups= is not supported")
    sources = [outputs[index + ref if ref < 0 else ref] for ref in _number_list(section, "layers")]
    if len(sources) == 1:
        return sources[0]
    output = graph.single("Concat", [s.name for s in sources], f"route{index}", axis=1)
    return _Tensor(output, sum(s.channels for s in sources), sources[0].height, sources[0].width)


def _shortcut(graph: _GraphBuilder, section: Section, outputs: list[_Tensor], index: int) -> _Tensor:
    if section.options.get("activation", "linear") != "linear":
        raise ModelFileError(f"cfg line {section.line}: [shortcut] activation must be linear")
    reference = _option(section, "from", -1)
    other, previous = outputs[index + reference if reference < 0 else reference], outputs[index - 1]
    return _Tensor(graph.single("Add", [previous.name, other.name], f"shortcut{index}"), previous.channels,
                   previous.height, previous.width)


def _yolo(graph: _GraphBuilder, section: Section, source: _Tensor, index: int, input_width: int,
          input_height: int) -> str:
    """Decode a head into (H·W·A) × (5 + classes) rows, row order (y, x, anchor) as OpenCV's."""
    classes = _option(section, "classes", 20)
    anchors = np.array(_number_list(section, "anchors", float), dtype=np.float32).reshape(-1, 2)
    mask = _number_list(section, "mask") or list(range(len(anchors)))
    threshold = _option(section, "thresh", DEFAULT_YOLO_THRESHOLD, float)
    if _option(section, "scale_x_y", 1.0, float) != 1.0:
        raise ModelFileError(f"cfg line {section.line}: [yolo] with scale_x_y= is not supported")
    count, attributes, height, width = len(mask), 5 + classes, source.height, source.width
    if source.channels != count * attributes:
        raise ModelFileError(f"cfg line {section.line}: the layer before [yolo] must have {count * attributes} filters")
    shape = graph.constant(f"yolo{index}_shape", np.array([0, count, attributes, height, width], dtype=np.int64))
    grouped = graph.single("Reshape", [source.name, shape], f"yolo{index}_grouped")
    by_cell = graph.single("Transpose", [grouped], f"yolo{index}_by_cell", perm=[0, 3, 4, 1, 2])
    rows_shape = graph.constant(f"yolo{index}_rows_shape",
                                np.array([0, height * width * count, attributes], dtype=np.int64))
    rows = graph.single("Reshape", [by_cell, rows_shape], f"yolo{index}_rows")
    split = graph.constant(f"yolo{index}_split", np.array([2, 2, 1, classes], dtype=np.int64))
    centre, size, objectness, class_logits = graph.node("Split", [rows, split], f"yolo{index}_part", outputs=4, axis=2)

    grid_y, grid_x, _ = np.meshgrid(np.arange(height), np.arange(width), np.arange(count), indexing="ij")
    cell = np.stack([grid_x, grid_y], axis=-1).reshape(1, -1, 2).astype(np.float32)
    cell_size = np.array([1 / width, 1 / height], dtype=np.float32)
    anchor_size = np.tile(anchors[mask] / np.array([input_width, input_height], dtype=np.float32), (height * width, 1))
    centre = graph.single("Add", [graph.single("Sigmoid", [centre], f"yolo{index}_offset"),
                                  graph.constant(f"yolo{index}_cell", cell)], f"yolo{index}_cell_xy")
    centre = graph.single("Mul", [centre, graph.constant(f"yolo{index}_cell_size", cell_size)], f"yolo{index}_xy")
    size = graph.single("Mul", [graph.single("Exp", [size], f"yolo{index}_exp"),
                                graph.constant(f"yolo{index}_anchors", anchor_size[np.newaxis])], f"yolo{index}_wh")
    objectness = graph.single("Sigmoid", [objectness], f"yolo{index}_objectness")
    scores = graph.single("Mul", [graph.single("Sigmoid", [class_logits], f"yolo{index}_class"), objectness],
                          f"yolo{index}_scores")
    above = graph.single("Greater", [scores, graph.constant(f"yolo{index}_thresh", np.array(threshold, np.float32))],
                         f"yolo{index}_above")
    scores = graph.single("Where", [above, scores, graph.constant(f"yolo{index}_zero", np.array(0, np.float32))],
                          f"yolo{index}_kept")
    return graph.single("Concat", [centre, size, objectness, scores], f"yolo{index}", axis=2)


def convert_darknet(cfg_path: Path, weights_path: Path):
    """The `onnx.ModelProto` of a darknet network: input `image` (batch × 3 × H × W, RGB in [0, 1])."""
    import onnx
    from onnx import TensorProto, helper

    cfg_path, weights_path = Path(cfg_path), Path(weights_path)
    sections = parse_cfg(cfg_path)
    net = sections[0]
    width, height, channels = _option(net, "width", 416), _option(net, "height", 416), _option(net, "channels", 3)
    graph, weights = _GraphBuilder(), _Weights(weights_path)
    graph.unique(INPUT_NAME)
    current = _Tensor(INPUT_NAME, channels, height, width)
    outputs: list[_Tensor] = []
    heads: list[tuple[str, int]] = []
    for index, section in enumerate(sections[1:]):
        kind = section.kind
        if kind in ("convolutional", "conv"):
            current = _convolutional(graph, section, current, weights, index)
        elif kind == "maxpool":
            current = _maxpool(graph, section, current, index)
        elif kind == "upsample":
            current = _upsample(graph, section, current, index)
        elif kind == "route":
            current = _route(graph, section, outputs, index)
        elif kind == "shortcut":
            current = _shortcut(graph, section, outputs, index)
        elif kind == "yolo":
            head = _yolo(graph, section, current, index, width, height)
            heads.append((head, current.height * current.width * len(_number_list(section, "mask") or [0])))
        else:
            raise ModelFileError(f"cfg file {cfg_path} line {section.line}: [{kind}] cannot be converted to ONNX")
        outputs.append(current)
    weights.check_all_used()
    classes = _option(next(s for s in sections if s.kind == "yolo"), "classes", 20) if heads else 0
    if not heads:
        raise ModelFileError(f"cfg file {cfg_path} has no [yolo] layer: not a YOLOv3-style network")
    image = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", channels, height, width])
    results = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", rows, 5 + classes])
               for name, rows in heads]
    model = helper.make_model(
        helper.make_graph(graph.nodes, cfg_path.stem, [image], results, graph.initializers),
        opset_imports=[helper.make_opsetid("", OPSET)], producer_name="avgen", producer_version=CONVERTER_VERSION)
    model.ir_version = min(model.ir_version, 8)  # readable by older runtimes too
    onnx.checker.check_model(model)
    return model


def model_key(cfg_path: Path, weights_path: Path) -> str:
    """What names a converted model: the cfg's and the weights' contents and the converter's version."""
    return sha256_of_files(cfg_path, weights_path, prefix=CONVERTER_VERSION.encode())[:16]


def _writable_folder(preferred: Path) -> Path:
    if os.access(preferred, os.W_OK):
        return preferred
    fallback = cache_dir() / "onnx"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def converted_model_path(cfg_path: Path, weights_path: Path, *, verify=None) -> Path:
    """The cached ONNX model of these files, converting (and verifying) it first when there is none.

    `verify(onnx_path)` raises when the converted model is wrong; it runs before the model is cached.
    """
    cfg_path, weights_path = Path(cfg_path), Path(weights_path)
    name = f"{weights_path.stem}.{model_key(cfg_path, weights_path)}.onnx"
    for folder in dict.fromkeys((weights_path.parent, _writable_folder(weights_path.parent))):
        if (folder / name).is_file():
            log.debug("converted model %s is cached", folder / name)
            return folder / name
    target = _writable_folder(weights_path.parent) / name
    model = convert_darknet(cfg_path, weights_path)
    handle, partial = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    try:
        Path(partial).write_bytes(model.SerializeToString())
        if verify is not None:
            verify(Path(partial))
        os.replace(partial, target)
    finally:
        Path(partial).unlink(missing_ok=True)
    log.info("converted %s + %s to ONNX: %s", cfg_path.name, weights_path.name, target)
    return target
