"""Loaded models kept by the process that loaded them, keyed by (kind, configuration), with a bound.

A plain `avgen-handler` process uses this to share one network among the images of one call; the warm
handler (warm.py) lives on, so its models serve every later call of the container. Memory stays bounded:
at most `AVGEN_WARM_MAX_MODELS` models (default 2), least recently used dropped first, and every model is
dropped, oldest first, while the process or its container is short of memory (checked before a load and
after each warm call).
"""
from __future__ import annotations

import gc
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

MAX_MODELS_VARIABLE = "AVGEN_WARM_MAX_MODELS"
DEFAULT_MAX_MODELS = 2
# Short of memory: above this share of the container's limit, or with less than MIN_AVAILABLE of the machine free.
PRESSURE_SHARE = 0.8
MIN_AVAILABLE = 0.1
log = logging.getLogger("avgen.handlers.models")
T = TypeVar("T")

_models: OrderedDict[tuple, Any] = OrderedDict()


def cached(kind: str, key: tuple[Hashable, ...], load: Callable[[], T]) -> T:
    """The model of `kind` for `key`, loaded by `load()` the first time (and again after an eviction)."""
    full_key = (kind, *key)
    if full_key in _models:
        _models.move_to_end(full_key)
        return _models[full_key]
    _make_room(max_models() - 1)
    model = load()
    _models[full_key] = model
    return model


def max_models() -> int:
    try:
        return max(1, int(os.environ.get(MAX_MODELS_VARIABLE, DEFAULT_MAX_MODELS)))
    except ValueError:
        return DEFAULT_MAX_MODELS


def loaded() -> list[tuple]:
    """Keys of the models held, least recently used first."""
    return list(_models)


def clear() -> None:
    _models.clear()
    gc.collect()


def relieve_memory_pressure() -> int:
    """Drop models, least recently used first, while memory is short; returns how many were dropped."""
    return _make_room(len(_models))


def _make_room(keep_at_most: int) -> int:
    dropped = 0
    while _models and (len(_models) > keep_at_most or under_pressure()):
        key, _ = _models.popitem(last=False)
        dropped += 1
        gc.collect()  # the network's buffers go back now, not at some later collection
        log.info("dropped the %s model %s to stay within memory", key[0], key[1:2])
    return dropped


def under_pressure() -> bool:
    limit, used = _container_memory()
    if limit and used and used > PRESSURE_SHARE * limit:
        return True
    total, available = _machine_memory()
    return bool(total and available is not None and available < MIN_AVAILABLE * total)


def _container_memory() -> tuple[int, int]:
    """(limit, used) in bytes: Lambda's memory size against this process' resident size, else the cgroup's
    limit and usage; zeros when neither is known."""
    lambda_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    if lambda_mb and lambda_mb.isdigit():
        return int(lambda_mb) << 20, _resident_bytes()
    for limit_file, usage_file in (("memory.max", "memory.current"),
                                   ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        limit, used = _read_int(Path("/sys/fs/cgroup") / limit_file), _read_int(Path("/sys/fs/cgroup") / usage_file)
        if limit and used and limit < 1 << 60:  # "max" or v1's huge number mean no limit
            return limit, used
    return 0, 0


def _machine_memory() -> tuple[int, int | None]:
    values = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            name, _, rest = line.partition(":")
            values[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return 0, None
    return values.get("MemTotal", 0), values.get("MemAvailable")


def _resident_bytes() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0
