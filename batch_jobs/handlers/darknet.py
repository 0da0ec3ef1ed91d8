"""Darknet model files: the `.cfg` network description, the `.weights` file that must match it, `.names`.

OpenCV reads a weights file that is too short or too long without a useful message (or not at all), so
the expected size is computed from the cfg first: a header, then float32 parameters layer by layer.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from .handler_errors import ModelFileError

FLOAT32_BYTES = 4
# Header: major, minor, revision as int32, then the "images seen" counter: int64 from format 0.2 on.
HEADER_BYTES_OLD = 3 * 4 + 4
HEADER_BYTES_NEW = 3 * 4 + 8
# Layers that carry no parameters and keep the channel count of their input.
CHANNEL_PRESERVING_LAYERS = {"maxpool", "upsample", "yolo", "region", "dropout", "avgpool", "softmax", "cost"}


@dataclass(frozen=True)
class Section:
    kind: str
    options: dict[str, str]
    line: int


@dataclass(frozen=True)
class ConvLayer:
    """A convolutional layer's shape: enough to lay out (or count) its weights in darknet order."""

    index: int  # position among the network's layers ([net] excluded), as `route` layers count them
    filters: int
    input_channels: int
    size: int
    groups: int
    batch_normalize: bool
    feeds_detection: bool  # directly followed by a [yolo]/[region] layer: a detection head

    @property
    def kernel_weights(self) -> int:
        return self.filters * (self.input_channels // self.groups) * self.size * self.size

    @property
    def parameter_count(self) -> int:
        # biases, then (with batch norm) scales, rolling mean, rolling variance, then the kernels.
        per_filter_vectors = 4 if self.batch_normalize else 1
        return per_filter_vectors * self.filters + self.kernel_weights


@dataclass(frozen=True)
class NetworkDescription:
    cfg_path: Path
    input_width: int
    input_height: int
    input_channels: int
    classes: int
    conv_layers: tuple[ConvLayer, ...]

    @property
    def parameter_count(self) -> int:
        return sum(layer.parameter_count for layer in self.conv_layers)


def parse_cfg(path: Path) -> list[Section]:
    """The cfg's sections in order, `[net]` first; ModelFileError when it is not a darknet cfg."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise ModelFileError(f"cannot read cfg file {path}: {error.strerror}") from None
    sections: list[Section] = []
    for line_number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append(Section(line[1:-1].strip().lower(), {}, line_number))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1].options[key.strip()] = value.strip()
        else:
            raise ModelFileError(
                f"cfg file {path} line {line_number} is not 'key=value' or '[section]': {raw_line.strip()!r}")
    if not sections or sections[0].kind not in ("net", "network"):
        raise ModelFileError(f"cfg file {path} does not start with a [net] section: not a darknet cfg")
    return sections


def _int_option(section: Section, key: str, default: int | None, path: Path) -> int:
    value = section.options.get(key)
    if value is None:
        if default is None:
            raise ModelFileError(f"cfg file {path} line {section.line}: [{section.kind}] lacks '{key}'")
        return default
    try:
        return int(value)
    except ValueError:
        raise ModelFileError(f"cfg file {path} line {section.line}: '{key}={value}' is not an integer") from None


def _route_sources(section: Section, index: int, path: Path) -> list[int]:
    sources = []
    for item in section.options.get("layers", "").split(","):
        try:
            reference = int(item)
        except ValueError:
            raise ModelFileError(
                f"cfg file {path} line {section.line}: bad route 'layers={section.options.get('layers')}'") from None
        source = index + reference if reference < 0 else reference
        if not 0 <= source < index:
            raise ModelFileError(
                f"cfg file {path} line {section.line}: route refers to layer {source}, which does not precede it")
        sources.append(source)
    return sources


def describe_network(cfg_path: Path) -> NetworkDescription:
    """Input size, class count and every convolution's shape, following channels through the layers."""
    cfg_path = Path(cfg_path)
    sections = parse_cfg(cfg_path)
    net, layers = sections[0], sections[1:]
    channels = _int_option(net, "channels", 3, cfg_path)
    width, height = _int_option(net, "width", None, cfg_path), _int_option(net, "height", None, cfg_path)
    output_channels: list[int] = []
    conv_layers: list[ConvLayer] = []
    classes = 0
    current = channels
    for index, section in enumerate(layers):
        kind = section.kind
        if kind in ("convolutional", "conv"):
            groups = _int_option(section, "groups", 1, cfg_path)
            next_kind = layers[index + 1].kind if index + 1 < len(layers) else ""
            layer = ConvLayer(
                index=index, filters=_int_option(section, "filters", 1, cfg_path), input_channels=current,
                size=_int_option(section, "size", 1, cfg_path), groups=groups,
                batch_normalize=bool(_int_option(section, "batch_normalize", 0, cfg_path)),
                feeds_detection=next_kind in ("yolo", "region"),
            )
            conv_layers.append(layer)
            current = layer.filters
        elif kind == "route":
            total = sum(output_channels[source] for source in _route_sources(section, index, cfg_path))
            current = total // _int_option(section, "groups", 1, cfg_path)
        elif kind == "shortcut":
            pass  # adds another layer's output element-wise: channels of the previous layer remain
        elif kind == "reorg":
            current *= _int_option(section, "stride", 2, cfg_path) ** 2
        elif kind in CHANNEL_PRESERVING_LAYERS:
            if kind in ("yolo", "region"):
                classes = _int_option(section, "classes", 20, cfg_path)
        else:
            raise ModelFileError(f"cfg file {cfg_path} line {section.line}: layer type [{kind}] is not supported")
        output_channels.append(current)
    if not any(section.kind in ("yolo", "region") for section in layers):
        raise ModelFileError(f"cfg file {cfg_path} has no [yolo] or [region] layer: not a detection network")
    return NetworkDescription(cfg_path, width, height, channels, classes, tuple(conv_layers))


def weights_header_bytes(major: int, minor: int) -> int:
    """Darknet's rule for the width of the "seen" counter."""
    if major * 10 + minor >= 2 and major < 1000 and minor < 1000:
        return HEADER_BYTES_NEW
    return HEADER_BYTES_OLD


def check_weights(network: NetworkDescription, weights_path: Path) -> None:
    """ModelFileError naming the file and the expected vs actual size unless the weights fit the cfg."""
    weights_path = Path(weights_path)
    try:
        actual = weights_path.stat().st_size
        with weights_path.open("rb") as handle:
            header = handle.read(8)
    except OSError as error:
        raise ModelFileError(f"cannot read weights file {weights_path}: {error.strerror}") from None
    if len(header) < 8:
        raise ModelFileError(f"weights file {weights_path} is {actual} bytes: too short to be darknet weights")
    major, minor = struct.unpack("<ii", header)
    expected = weights_header_bytes(major, minor) + FLOAT32_BYTES * network.parameter_count
    if actual != expected:
        raise ModelFileError(
            f"weights file {weights_path} is {actual} bytes but cfg {network.cfg_path.name} needs {expected} bytes "
            f"({network.parameter_count} parameters): wrong weights for this cfg, or a truncated download"
        )


def read_names(names_path: Path, classes: int) -> list[str]:
    """Class labels, one per line; ModelFileError unless there is exactly one per class of the network."""
    names_path = Path(names_path)
    try:
        names = [line.strip() for line in names_path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError as error:
        raise ModelFileError(f"cannot read names file {names_path}: {error.strerror}") from None
    while names and not names[-1]:
        names.pop()
    if len(names) != classes:
        raise ModelFileError(f"names file {names_path} has {len(names)} labels but the network has {classes} classes")
    return names
