"""``python -m watcher`` and the ``summit-watch`` command.

The CLI is imported inside ``main``: parser worker processes (forkserver) re-import the main
module, and should not load the database, HTTP and CLI libraries they never use.
"""


def main() -> None:
    """Console-script entry point."""
    from watcher.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
