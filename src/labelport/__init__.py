"""labelport: labeled computer-vision data out of an annotation store and into training."""

__version__ = "0.1.0"
"""The one place the version lives (pyproject reads it): a literal, because asking
``importlib.metadata`` costs every command ~40 ms of start-up."""

__all__ = ["Client", "__version__"]


def __getattr__(name: str) -> object:
    """``labelport.Client`` without importing httpx for every ``import labelport``."""
    if name == "Client":
        from labelport.client import Client

        return Client
    raise AttributeError(f"module 'labelport' has no attribute {name!r}")
