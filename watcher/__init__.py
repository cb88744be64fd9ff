"""summit-watch: watch news feeds for the diplomatic events you care about."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("summit-watch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
