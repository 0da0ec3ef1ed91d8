"""avgen: SCAR-format media workflows → validated model → Terraform → AWS."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("avgen")
except PackageNotFoundError:  # running from a checkout that was not installed
    __version__ = "0.0.0+unknown"
