"""Files of the repository that ship inside the package (pyproject.toml maps their folders to packages)."""
from __future__ import annotations

import importlib.util
from pathlib import Path


def shipped_folder(name: str) -> Path:
    """`templates/`, `modules/` or `docs/`: package data (`generator.NAME`) of an installed avgen, the
    repository's folder in a checkout."""
    try:
        spec = importlib.util.find_spec(f"generator.{name}")
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[1] / name
