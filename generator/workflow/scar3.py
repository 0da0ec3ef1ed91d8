"""SCAR 3.x's map form (`functions: NAME: {image, init_script, s3: {input_bucket, output_bucket}, …}`) in the
current form (`functions: aws: [- lambda: {name, container, input, output, …}]`).

The semantics are SCAR's own, from its code (grycap/scar, tag 3.2.2):
- `scar/parser/yaml.py` (YamlParser): each key under `functions` is a function name; its settings are
  the `lambda` ones (image, init_script, memory, time, log_level, environment, …) plus `iam`, `cloudwatch`,
  `s3`, `api_gateway`, `batch`, `region`, `execution_mode`. SCAR deploys only the first function of a file
  (`parse_arguments` returns `functions[0]`); avgen reads them all.
- `scar/providers/aws/properties.py` (S3Properties.process_storage_paths): `input_bucket: BUCKET/FOLDERS`
  splits into the bucket and the input folder; `output_bucket` likewise.
- `scar/providers/aws/s3.py` (S3._initialize_properties, get_trigger_configuration): with no folder, a
  function's input folder is `FUNCTION/input/`; the trigger is `s3:ObjectCreated:*` on that prefix.
- `scar/providers/aws/lambdafunction.py` (_add_s3_environment_vars): with no `output_bucket`, outputs go
  to the input path (`STORAGE_PATH_OUTPUT` = `input_bucket` as written).
Where outputs are written (grycap/faas-supervisor, and SCAR's own supervisor before it): an output with no
folder goes to `FUNCTION/output/REQUEST_ID/FILE` (faas-supervisor 1.0.x and 1.1.x,
`storage/providers/s3.py` `_get_file_key`); an output with a folder goes to `FOLDER/REQUEST_ID/FILE` in
SCAR's supervisor (grycap/scar 2127b61, `src/providers/aws/cloud/lambda/clients/s3.py` `get_file_key`),
which is what SCAR's video-process example documents (`s3://scar-ffmpeg/scar-batch-ffmpeg-split/
image-output/$REQUEST_ID/*.*`). faas-supervisor 1.1+ dropped the id folder when a folder is given; avgen
keeps the documented layout: every output of a 3.x function gets `request_id_folder: true`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The current form's place for each SCAR 3.x lambda setting (None: same name under `lambda:`).
_LAMBDA_KEYS = {
    "init_script": None, "memory": None, "log_level": None, "description": None, "region": None,
    "execution_mode": None, "asynchronous": None, "run_script": None, "c_args": None, "layers": None,
    "time": "timeout", "profile": "boto_profile",
}
_CONTAINER_KEYS = {"image", "image_file", "timeout_threshold"}
_SECTIONS = ("iam", "batch", "cloudwatch", "api_gateway")


def is_map_form(data: Any) -> bool:
    """`functions` is a mapping of function names (not the current `aws:` list / `oscar:` section)."""
    functions = data.get("functions") if isinstance(data, dict) else None
    if not isinstance(functions, dict) or "aws" in functions:  # `aws:` is the current form (or a typo in it)
        return False
    names = [name for name in functions if name != "oscar"]
    return bool(names) and all(isinstance(functions[name], dict) for name in names)


@dataclass
class Converted:
    """One function in the current form, and where each of its new places was written in the old file."""

    name: str
    entry: dict
    # new path (under the entry) -> old path (under `functions: NAME:`), most specific first
    moved: list[tuple[tuple, tuple]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # 3.x keys with no current meaning (kept out)
    unknown_s3: list[str] = field(default_factory=list)  # keys under `s3:` SCAR does not have


def _split(path: str) -> tuple[str, str]:
    bucket, _, folder = str(path).strip().strip("/").partition("/")
    return bucket, folder.strip("/")


def _variables(value: Any) -> Any:
    """SCAR 3.x environment: `{Variables: {…}}`, a plain mapping, or a list of `NAME=value`."""
    if isinstance(value, dict) and set(value) == {"Variables"}:
        return value
    if isinstance(value, dict):
        return {"Variables": dict(value)}
    if isinstance(value, list) and all(isinstance(item, str) and "=" in item for item in value):
        return {"Variables": dict(item.split("=", 1) for item in value)}
    return value  # the schema reports what it is


def convert_function(name: str, spec: dict) -> Converted:
    """One `functions: NAME: {...}` of SCAR 3.x as an entry of `functions: aws:`."""
    result = Converted(str(name), {})
    lam: dict = {"name": str(name)}
    container: dict = {}
    entry: dict = {"lambda": lam}
    for key, value in spec.items():
        _place_setting(key, value, entry, container, result)
    if "lambda_role" in spec:
        iam = entry.get("iam")
        if iam is None:
            entry["iam"] = {"role": spec["lambda_role"]}
        elif isinstance(iam, dict):
            entry["iam"] = {**iam, "role": spec["lambda_role"]}
        # else: an `iam:` of the wrong type, which the schema reports where it was written
    if container:
        lam["container"] = container
    s3 = spec.get("s3")
    if isinstance(s3, dict):
        result.unknown_s3 = _storage(str(name), s3, lam, result.moved)
    elif s3 is not None:
        lam["input"] = s3  # the schema reports the type
        result.moved.append((("lambda", "input"), ("s3",)))
    # the function's own keys map to `functions: NAME:` itself, after every more specific place
    result.moved.append((("lambda",), ()))
    result.moved.append(((), ()))
    result.entry = entry
    return result


def _place_setting(key: Any, value: Any, entry: dict, container: dict, result: Converted) -> None:
    """One 3.x setting at its place in the current form (`lambda_role` and `s3` are placed afterwards)."""
    lam, moved = entry["lambda"], result.moved
    if key in _CONTAINER_KEYS:
        container[key] = value
        moved.append((("lambda", "container", key), (key,)))
    elif key in _LAMBDA_KEYS:
        new = _LAMBDA_KEYS[key] or key
        lam[new] = value
        moved.append((("lambda", new), (key,)))
    elif key in ("environment", "lambda_environment"):
        target = container if key == "environment" else lam
        target["environment"] = _variables(value)
        moved.append((("lambda", "container", "environment") if key == "environment" else ("lambda", "environment"),
                      (key,)))
    elif key == "lambda_role":
        moved.append((("iam", "role"), (key,)))  # merged with an `iam:` section afterwards, in either order
    elif key in _SECTIONS:
        entry[key] = value
    elif key in ("extra_payload", "supervisor_version"):
        result.ignored.append(key)
    elif key != "s3":
        lam[key] = value  # unknown: the schema reports it as an unknown key, at its place in the old file
        moved.append((("lambda", key), (key,)))


def _storage(name: str, s3: dict, lam: dict, moved: list) -> list[str]:
    input_bucket = s3.get("input_bucket")
    output_bucket = s3.get("output_bucket")
    if input_bucket is not None:
        bucket, folder = _split(input_bucket)
        if not folder:  # S3._initialize_properties
            folder = str(s3.get("input_folder") or f"{name}/input").strip("/")
        lam["input"] = [{"storage_provider": "s3", "path": f"{bucket}/{folder}"}]
        moved.append((("lambda", "input", 0), ("s3", "input_bucket")))
    written = output_bucket if output_bucket is not None else input_bucket  # STORAGE_PATH_OUTPUT
    if written is not None:
        bucket, folder = _split(written)
        if not folder:  # faas-supervisor: FUNCTION/output/REQUEST_ID/
            folder = str(s3.get("output_folder") or f"{name}/output").strip("/")
        lam["output"] = [{"storage_provider": "s3", "path": f"{bucket}/{folder}", "request_id_folder": True}]
        moved.append((("lambda", "output", 0), ("s3", "output_bucket" if output_bucket is not None
                                                 else "input_bucket")))
    return sorted(str(k) for k in set(s3) - {"input_bucket", "output_bucket", "input_folder", "output_folder"})


def hint_for(converted: Converted) -> str:
    """How to write the function in the current form, short enough for one finding."""
    lam = converted.entry["lambda"]
    parts = [f"name: {converted.name}"]
    container = lam.get("container")
    image = container.get("image") if isinstance(container, dict) else None  # else the schema's finding says why
    if image:
        parts.append(f"container: {{image: {image}}}")
    for side in ("input", "output"):
        items = lam.get(side)
        if isinstance(items, list) and items and isinstance(items[0], dict) and "path" in items[0]:
            extra = ", request_id_folder: true" if side == "output" else ""
            parts.append(f"{side}: [{{storage_provider: s3, path: {items[0]['path']}{extra}}}]")
    return (f"write it as `functions: aws: [- lambda: {{{', '.join(parts)}, …}}]`, "
            "or run `avgen convert FILE -o NEW.yaml`")
