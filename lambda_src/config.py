"""The function's resolved configuration, as the generator hands it over in `AVGEN_FUNCTION`.

The generator has already validated the workflow; this module only checks the shape it relies on, so that a
mismatch between an image and the deployed configuration fails with a message instead of a KeyError.
Unknown keys are ignored: a newer generator may add settings that an older image does not use.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

EXECUTION_MODES = ("lambda", "batch", "lambda-batch")
CONFIG_VARIABLE = "AVGEN_FUNCTION"     # the function's configuration, as JSON (written by the generator)
SCRIPT_VARIABLE = "AVGEN_SCRIPT"       # where the image holds the function's script
# "1" in a GPU function's Batch job (its job definition): the handlers use the GPU or fail, never fall back to
# the CPU unnoticed; ALLOW_CPU_VARIABLE=1 lets them (a try-out on a machine without one)
REQUIRE_GPU_VARIABLE = "AVGEN_REQUIRE_GPU"
ALLOW_CPU_VARIABLE = "AVGEN_ALLOW_CPU"
DEFAULT_SCRIPT = "/opt/avgen/script.sh"
DEFAULT_TIMEOUT_THRESHOLD = 10


def output_accepts(relative_path: str, prefixes, suffixes) -> bool:
    """SCAR's output filter: any prefix AND any suffix, plain string tests; an empty list matches everything."""
    prefix_ok = not prefixes or any(relative_path.startswith(p) for p in prefixes)
    suffix_ok = not suffixes or any(relative_path.endswith(s) for s in suffixes)
    return prefix_ok and suffix_ok


class ConfigError(ValueError):
    """The configuration handed to the runtime is missing or malformed."""


@dataclass(frozen=True)
class InputConfig:
    bucket: str
    prefix: str = ""
    provider: str = "s3"

    def contains(self, bucket: str, key: str) -> bool:
        return bucket == self.bucket and (not self.prefix or key.startswith(self.prefix + "/"))


@dataclass(frozen=True)
class OutputConfig:
    bucket: str
    prefix: str = ""
    filter_prefix: tuple[str, ...] = ()
    filter_suffix: tuple[str, ...] = ()
    provider: str = "s3"
    # SCAR 3.x's convention: every invocation writes under a folder named by its request id (a Batch job
    # uses the request id of the Lambda invocation that submitted it), so runs never overwrite each other.
    request_id_folder: bool = False

    def accepts(self, relative_path: str) -> bool:
        return output_accepts(relative_path, self.filter_prefix, self.filter_suffix)

    def key_for(self, relative_path: str, request_id: str = "") -> str:
        if self.request_id_folder:
            relative_path = f"{request_id or 'unknown'}/{relative_path}"
        return f"{self.prefix}/{relative_path}" if self.prefix else relative_path


@dataclass(frozen=True)
class FunctionConfig:
    name: str
    execution_mode: str = "lambda"
    log_level: str = "INFO"
    timeout_threshold: int = DEFAULT_TIMEOUT_THRESHOLD
    batch_on_failure: bool = False
    inputs: tuple[InputConfig, ...] = ()
    outputs: tuple[OutputConfig, ...] = ()
    script: str = DEFAULT_SCRIPT
    # Extra variables for the script on top of the process environment (the local runner's way to pass
    # the container's variables; in AWS they are already in the environment).
    environment: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON object of `AVGEN_FUNCTION`: what `from_dict` reads back (script and environment travel apart)."""
        return {
            "name": self.name,
            "execution_mode": self.execution_mode,
            "log_level": self.log_level,
            "timeout_threshold": self.timeout_threshold,
            "batch_on_failure": self.batch_on_failure,
            "inputs": [{"provider": i.provider, "bucket": i.bucket, "prefix": i.prefix} for i in self.inputs],
            # request_id_folder only when set: the configuration of every other function stays as it was
            "outputs": [{"provider": o.provider, "bucket": o.bucket, "prefix": o.prefix,
                         "filter_prefix": list(o.filter_prefix), "filter_suffix": list(o.filter_suffix),
                         **({"request_id_folder": True} if o.request_id_folder else {})}
                        for o in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, script: str = DEFAULT_SCRIPT,
                  environment: Mapping[str, str] | None = None) -> FunctionConfig:
        if not isinstance(data, Mapping):
            raise ConfigError("the function configuration must be a JSON object")
        name = _string(data, "name", required=True)
        mode = _string(data, "execution_mode", default="lambda")
        if mode not in EXECUTION_MODES:
            raise ConfigError(f"execution_mode is {mode!r}; expected one of {', '.join(EXECUTION_MODES)}")
        threshold = data.get("timeout_threshold", DEFAULT_TIMEOUT_THRESHOLD)
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            raise ConfigError(f"timeout_threshold must be a non-negative integer, not {threshold!r}")
        batch_on_failure = data.get("batch_on_failure", False)
        if not isinstance(batch_on_failure, bool):
            raise ConfigError(f"batch_on_failure must be true or false, not {batch_on_failure!r}")
        return cls(
            name=name,
            execution_mode=mode,
            log_level=_string(data, "log_level", default="INFO").upper(),
            timeout_threshold=threshold,
            batch_on_failure=batch_on_failure,
            inputs=tuple(_input(item, i) for i, item in enumerate(_list(data, "inputs"))),
            outputs=tuple(_output(item, i) for i, item in enumerate(_list(data, "outputs"))),
            script=script,
            environment=dict(environment or {}),
        )


def load_config(environ: Mapping[str, str] | None = None) -> FunctionConfig:
    """Read `AVGEN_FUNCTION` and `AVGEN_SCRIPT` from the environment (the deployed function's case)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(CONFIG_VARIABLE)
    if not raw:
        raise ConfigError(f"{CONFIG_VARIABLE} is not set: the function was not deployed by avgen")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{CONFIG_VARIABLE} is not valid JSON: {exc}") from None
    return FunctionConfig.from_dict(data, script=environ.get(SCRIPT_VARIABLE) or DEFAULT_SCRIPT)


def _string(data: Mapping[str, Any], key: str, *, where: str = "", required: bool = False,
            default: str = "") -> str:
    value = data.get(key, None)
    if value is None:
        if required:
            raise ConfigError(f"{where}{key} is required")
        return default
    if not isinstance(value, str):
        raise ConfigError(f"{where}{key} must be a string, not {value!r}")
    return value


def _list(data: Mapping[str, Any], key: str, *, where: str = "") -> list:
    value = data.get(key, None)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where}{key} must be a list, not {value!r}")
    return value


def _strings(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = _list(data, key, where=where)
    if not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}{key} must be a list of strings, not {values!r}")
    return tuple(values)


def _location(item: Any, where: str) -> tuple[str, str, str]:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where} must be an object, not {item!r}")
    provider = _string(item, "provider", where=f"{where}.", default="s3")
    if provider != "s3":
        raise ConfigError(f"{where}.provider is {provider!r}; this runtime reads and writes S3 only")
    bucket = _string(item, "bucket", where=f"{where}.", required=True)
    prefix = _string(item, "prefix", where=f"{where}.")
    if prefix.startswith("/") or prefix.endswith("/"):
        raise ConfigError(f"{where}.prefix {prefix!r} must not start or end with '/'")
    return provider, bucket, prefix


def _input(item: Any, index: int) -> InputConfig:
    provider, bucket, prefix = _location(item, f"inputs[{index}]")
    return InputConfig(bucket=bucket, prefix=prefix, provider=provider)


def _output(item: Any, index: int) -> OutputConfig:
    where = f"outputs[{index}]"
    provider, bucket, prefix = _location(item, where)
    return OutputConfig(
        bucket=bucket,
        prefix=prefix,
        filter_prefix=_strings(item, "filter_prefix", f"{where}."),
        filter_suffix=_strings(item, "filter_suffix", f"{where}."),
        provider=provider,
        request_id_folder=_flag(item, "request_id_folder", f"{where}."),
    )


def _flag(data: Mapping[str, Any], key: str, where: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}{key} must be true or false, not {value!r}")
    return value
