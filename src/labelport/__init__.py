"""labelport: labeled computer-vision data out of an annotation store and into training."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("labelport")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["Client", "__version__"]


def __getattr__(name: str) -> object:
    """``labelport.Client`` without importing httpx for every ``import labelport``."""
    if name == "Client":
        from labelport.client import Client

        return Client
    raise AttributeError(f"module 'labelport' has no attribute {name!r}")
