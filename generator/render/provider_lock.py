"""The dependency lock file (`.terraform.lock.hcl`) of the generated root: the exact hashicorp/aws release and
its checksums, so that every `terraform init` of the root installs the same provider package.

avgen writes it in the form `terraform init` writes it (so init leaves it as it is) when the folder has none,
or when the one there pins a release outside the root's constraint (a new `aws_provider_major`). Once there,
it belongs to Terraform: `terraform init` adds the checksum of each platform it runs on, and
`terraform init -upgrade` or `terraform providers lock` move it to a newer release within the constraint;
avgen keeps such a file as it is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

LOCK_FILE = ".terraform.lock.hcl"
PROVIDER = "registry.terraform.io/hashicorp/aws"


@dataclass(frozen=True)
class ProviderRelease:
    version: str
    # h1: the package as installed (here: linux_amd64, computed by `terraform providers lock -fs-mirror` from
    # the mirror avgen's tests use); zh: the SHA-256 of each platform's zip as HashiCorp's signed SHA256SUMS
    # lists them, which `terraform init` checks a download from the registry against, on any platform.
    hashes: tuple[str, ...]


# The release each `aws_provider_major` locks to: the one avgen's `terraform validate` and sandbox run. To move
# it, online: `terraform providers lock -platform=linux_amd64 -platform=darwin_arm64` in a generated root
# whose versions.tf admits the new release, then copy its hashes here (tests/generate/test_provider_lock.py
# checks that `terraform init -lockfile=readonly` accepts the mirror's package with them).
# Major 6 has none yet (no 6.x package to test with): its root gets no lock file from avgen, and the first
# `terraform init` writes one (docs/generated-terraform.md, "Versions").
RELEASES: dict[int, ProviderRelease] = {
    5: ProviderRelease("5.100.0", (
        "h1:edXOJWE4ORX8Fm+dpVpICzMZJat4AX0VRCAy/xkcOc0=",
        "zh:054b8dd49f0549c9a7cc27d159e45327b7b65cf404da5e5a20da154b90b8a644",
        "zh:0b97bf8d5e03d15d83cc40b0530a1f84b459354939ba6f135a0086c20ebbe6b2",
        "zh:1589a2266af699cbd5d80737a0fe02e54ec9cf2ca54e7e00ac51c7359056f274",
        "zh:6330766f1d85f01ae6ea90d1b214b8b74cc8c1badc4696b165b36ddd4cc15f7b",
        "zh:7c8c2e30d8e55291b86fcb64bdf6c25489d538688545eb48fd74ad622e5d3862",
        "zh:99b1003bd9bd32ee323544da897148f46a527f622dc3971af63ea3e251596342",
        "zh:9b12af85486a96aedd8d7984b0ff811a4b42e3d88dad1a3fb4c0b580d04fa425",
        "zh:9f8b909d3ec50ade83c8062290378b1ec553edef6a447c56dadc01a99f4eaa93",
        "zh:aaef921ff9aabaf8b1869a86d692ebd24fbd4e12c21205034bb679b9caf883a2",
        "zh:ac882313207aba00dd5a76dbd572a0ddc818bb9cbf5c9d61b28fe30efaec951e",
        "zh:bb64e8aff37becab373a1a0cc1080990785304141af42ed6aa3dd4913b000421",
        "zh:dfe495f6621df5540d9c92ad40b8067376350b005c637ea6efac5dc15028add4",
        "zh:f0ddf0eaf052766cfe09dea8200a946519f653c384ab4336e2a4a64fdd6310e9",
        "zh:f1b7e684f4c7ae1eed272b6de7d2049bb87a0275cb04dbb7cda6636f600699c9",
        "zh:ff461571e3f233699bf690db319dfe46aec75e58726636a0d97dd9ac6e32fb70",
    )),
}

_LOCKED_VERSION = re.compile(r'provider\s+"' + re.escape(PROVIDER) + r'"\s*\{[^}]*?\bversion\s*=\s*"([^"]+)"', re.S)


def lock_file_text(major: int, constraint: str) -> str | None:
    """The lock file as `terraform init` writes it for the root's constraint; None when avgen has no release
    of that major to lock to."""
    release = RELEASES.get(major)
    if release is None:
        return None
    hashes = "".join(f'    "{value}",\n' for value in sorted(release.hashes))
    return ('# This file is maintained automatically by "terraform init".\n'
            "# Manual edits may be lost in future updates.\n\n"
            f'provider "{PROVIDER}" {{\n'
            f'  version     = "{release.version}"\n'
            f'  constraints = "{constraint}"\n'
            f"  hashes = [\n{hashes}  ]\n}}\n")


def locked_version(text: str) -> tuple[int, ...] | None:
    """The hashicorp/aws release a lock file pins, or None when it pins none (or is not one)."""
    match = _LOCKED_VERSION.search(text)
    if not match:
        return None
    try:
        return tuple(int(part) for part in match.group(1).split("-")[0].split("."))
    except ValueError:
        return None


def keeps_lock(current: str, generated: str) -> bool:
    """Whether the lock file in the folder (`current`) stays instead of avgen's (`generated`): it pins a
    release of the same major, no older (what `terraform init` and `terraform init -upgrade` leave there)."""
    version, wanted = locked_version(current), locked_version(generated)
    return version is not None and wanted is not None and version[0] == wanted[0] and version >= wanted
