"""The generated root's dependency lock file (issue 27): written as `terraform init` writes it, listed in the
manifest, kept once Terraform owns it (more platforms, a newer release), replaced when it pins another major."""
from __future__ import annotations

import subprocess

import pytest

from generator.render.provider_lock import LOCK_FILE, RELEASES, keeps_lock
from generator.render.root import read_manifest, render, write_output
from generator.workflow.load import load_text

from .cases import CASES, render_case

WORKFLOW = """functions:
  aws:
  - lambda:
      name: thumbs
      container: {image: debian:bookworm-slim}
      input: [{storage_provider: s3, path: media/in}]
      output: [{storage_provider: s3, path: media/out}]
avgen:
  backend: {type: local}
"""


def rendered(major: int) -> dict[str, str]:
    text = WORKFLOW + f"  aws_provider_major: {major}\n"
    result = load_text(text, "workflow.yaml")
    assert result.ok, result.findings
    return render(result.workflow)


def test_the_lock_pins_avgens_release_with_every_platforms_checksum():
    lock = render_case("av-workflow")[LOCK_FILE]
    assert 'provider "registry.terraform.io/hashicorp/aws" {\n  version     = "5.100.0"\n' in lock
    assert '  constraints = "~> 5.100"\n' in lock
    hashes = [line.strip().strip('",') for line in lock.splitlines() if line.startswith('    "')]
    assert hashes == sorted(hashes) and set(hashes) == set(RELEASES[5].hashes)
    assert sum(h.startswith("zh:") for h in hashes) >= 10  # one per platform HashiCorp builds


def test_a_root_for_aws_6_gets_no_lock_from_avgen():
    assert LOCK_FILE in rendered(5) and LOCK_FILE not in rendered(6)


@pytest.mark.terraform
@pytest.mark.parametrize("name", sorted(CASES))
def test_terraform_init_installs_from_the_lock_and_leaves_it_as_it_is(name, tmp_path, terraform_bin,
                                                                         terraform_env, plugin_dir):
    files = render_case(name)
    write_output(tmp_path, files)
    init = subprocess.run([terraform_bin, "init", "-backend=false", "-input=false", "-no-color",
                           f"-plugin-dir={plugin_dir}", "-lockfile=readonly"],
                          cwd=tmp_path, env=terraform_env, capture_output=True, text=True, timeout=300)
    assert init.returncode == 0, init.stdout + init.stderr
    assert (tmp_path / LOCK_FILE).read_text() == files[LOCK_FILE]


def test_the_lock_is_in_the_manifest_and_a_lock_terraform_extended_is_kept(tmp_path):
    files = rendered(5)
    write_output(tmp_path, files)
    assert LOCK_FILE in read_manifest(tmp_path)
    # what `terraform init` on another platform, or `terraform init -upgrade`, leaves there
    extended = files[LOCK_FILE].replace('version     = "5.100.0"', 'version     = "5.101.0"').replace(
        "  hashes = [\n", '  hashes = [\n    "h1:AnotherPlatformxxxxxxxxxxxxxxxxxxxxxxxxxxx=",\n')
    (tmp_path / LOCK_FILE).write_text(extended)
    assert not write_output(tmp_path, files, check=True).stale
    write_output(tmp_path, files)
    assert (tmp_path / LOCK_FILE).read_text() == extended


def test_a_lock_of_another_major_or_an_older_release_is_replaced(tmp_path):
    files = rendered(5)
    write_output(tmp_path, files)
    for version in ("6.47.0", "5.99.1"):
        (tmp_path / LOCK_FILE).write_text(files[LOCK_FILE].replace("5.100.0", version))
        result = write_output(tmp_path, files)
        assert [(c.path, c.action) for c in result.changes] == [(LOCK_FILE, "update")]
        assert (tmp_path / LOCK_FILE).read_text() == files[LOCK_FILE]


def test_moving_to_aws_6_removes_avgens_lock_and_keeps_one_terraform_wrote(tmp_path):
    write_output(tmp_path, rendered(5))
    changes = {(c.path, c.action) for c in write_output(tmp_path, rendered(6)).changes}
    assert changes == {(LOCK_FILE, "delete"), ("versions.tf", "update")}
    assert not (tmp_path / LOCK_FILE).exists()
    (tmp_path / LOCK_FILE).write_text("# written by terraform init\n")  # not avgen's: never touched
    write_output(tmp_path, rendered(6))
    assert (tmp_path / LOCK_FILE).read_text() == "# written by terraform init\n"


def test_only_a_release_of_the_same_major_and_no_older_is_kept():
    lock = rendered(5)[LOCK_FILE]
    assert keeps_lock(lock.replace("5.100.0", "5.100.2"), lock)
    assert not keeps_lock(lock.replace("5.100.0", "6.0.0"), lock)
    assert not keeps_lock("not a lock file", lock)
