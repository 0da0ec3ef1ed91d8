"""A storage_provider reference (`minio.store`) to a provider `storage_providers` does not define."""
from __future__ import annotations

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule

RULE = rule("AVG014")


def undefined(provider: str, ident: str, written: str, defined: dict[str, tuple[str, ...]],
              place: Place) -> Finding | None:
    """`defined`: the ids each provider type has; `s3` alone (`s3.default`) needs no definition."""
    if (provider == "s3" and ident == "default") or ident in defined.get(provider, ()):
        return None
    names = ", ".join(f"{provider}.{i}" for i in defined.get(provider, ())) or "none"
    return RULE.at(place, f"storage_provider `{written}` refers to `storage_providers.{provider}.{ident}`, which "
                   f"is not defined (defined: {names})",
                   f"add it under `storage_providers: {provider}: {ident}:` or fix the reference")
