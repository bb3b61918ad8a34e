"""labelport: labeled computer-vision data out of an annotation store and into training."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("labelport")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
