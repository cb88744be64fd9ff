"""summit-watch: watch news feeds for the diplomatic events you care about."""


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed distribution's metadata on first use: importing
    ``importlib.metadata`` and scanning the path would slow every command's start."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("summit-watch")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
