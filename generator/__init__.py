"""avgen: SCAR-format media workflows → validated model → Terraform → AWS."""
from __future__ import annotations


def __getattr__(name: str) -> str:
    # looked up when first used (generate, --version, SARIF): importlib.metadata's search of the installed
    # packages is start-up time that `avgen validate` does not need
    if name != "__version__":
        raise AttributeError(f"module 'generator' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("avgen")
    except PackageNotFoundError:  # running from a checkout that was not installed
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
