"""The generated Terraform passes terraform fmt and validate (hashicorp/aws 5.100, installed) and the
provider schema check against 5.100 and 6.47 (nothing unknown, missing or deprecated)."""
from __future__ import annotations

import subprocess

import pytest

from generator.render.root import write_output
from tests.generate.schema_check import check_directory, format_findings, load_schema

from .cases import CASES, render_case
from .conftest import provider_schema_path


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Each case written once into a folder of its own."""
    folders = {}
    for name in CASES:
        folder = tmp_path_factory.mktemp(name)
        write_output(folder, render_case(name))
        folders[name] = folder
    return folders


def run(args, folder, env):
    return subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.terraform
@pytest.mark.parametrize("name", sorted(CASES))
def test_terraform_fmt_changes_nothing(name, generated, terraform_bin, terraform_env):
    result = run([terraform_bin, "fmt", "-check", "-recursive", "-diff", "-no-color"], generated[name], terraform_env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.terraform
@pytest.mark.parametrize("name", sorted(CASES))
def test_terraform_validate_with_aws_5_100(name, generated, terraform_bin, terraform_env, plugin_dir):
    init = run([terraform_bin, "init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={plugin_dir}"],
               generated[name], terraform_env)
    assert init.returncode == 0, init.stdout + init.stderr
    validate = run([terraform_bin, "validate", "-no-color"], generated[name], terraform_env)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "Warning" not in validate.stdout, validate.stdout


@pytest.mark.parametrize("version", ["6.47.0", "5.100.0"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_resource_matches_the_provider_schema(name, version, generated):
    schema = load_schema(provider_schema_path(version))
    findings = check_directory(generated[name], schema)
    assert findings == [], format_findings(findings)
