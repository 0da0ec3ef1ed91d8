"""Tools the generate tests run (terraform, checkov) and where the provider schemas are.

Each is looked up once; a test that needs a missing tool is skipped with the reason, except in CI
(CI=true), where a missing tool fails the test: a gate that silently skips proves nothing. The provider
mirror (`plugin_dir`) comes from tests/conftest.py.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ..conftest import missing_tool
from .cases import DATA_DIR, REPO


def pytest_configure(config):
    config.addinivalue_line("markers", "terraform: runs the terraform binary (fmt, init, validate)")
    config.addinivalue_line("markers", "checkov: scans generated Terraform with checkov (slow)")


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    found = shutil.which(os.environ.get("AVGEN_TERRAFORM_BIN", "terraform"))
    if not found:
        missing_tool("terraform is not installed")
    return found


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory) -> dict[str, str]:
    """terraform's environment: an empty CLI config of our own (the machine's points at a missing file)."""
    config = tmp_path_factory.mktemp("terraform-cli") / "terraformrc"
    config.write_text("# empty: providers come from -plugin-dir\n")
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}


@pytest.fixture(scope="session")
def checkov_bin() -> str:
    candidates = [os.environ.get("AVGEN_CHECKOV"), REPO / ".venv-checkov" / "bin" / "checkov",
                  "/opt/checkov-venv/bin/checkov", shutil.which("checkov")]
    for candidate in filter(None, candidates):
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    missing_tool("checkov is not installed (bash scripts/setup.sh puts it in .venv-checkov)")


def provider_schema_path(version: str) -> Path:
    """The trimmed copy in tests/generate/data (scripts/regen_golden.py cuts it from the full schema), or the
    full schema from $AVGEN_PROVIDER_SCHEMA_DIR when set."""
    name = f"aws-provider-schema-{version}.json"
    folder = os.environ.get("AVGEN_PROVIDER_SCHEMA_DIR")
    if folder and (Path(folder) / name).is_file():
        return Path(folder) / name
    return DATA_DIR / name.replace(".json", ".trimmed.json")
