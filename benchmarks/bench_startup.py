"""Start-up time of the `summit-watch` command line: whole processes, as people and scripts run it.

    .venv/bin/python benchmarks/bench_startup.py [--runs 10]

Each command runs ``--runs`` times as a new process (``python -m watcher ...`` with this script's
interpreter, from the repository's root) and its median and fastest wall times are printed with
its target. Targets: ``--help`` and ``rules check rules`` (the bundled example rules) 0.15 s; a
command that opens the database, ``hits`` and ``status``, 0.35 s. Those two run on a temporary
copy of examples/summit-watch.yaml whose SQLite database is in a temporary directory, created by
``db upgrade`` before the timing (so the script needs nothing beside the repository).

Baselines, measured in the same run the same way:

- ``python -c pass``: the interpreter alone, the floor of any command;
- the eager import: what the command line imported at start-up before it imported its libraries
  in the commands that use them (the database, the pipeline, the matcher, the rules), which every
  command, ``--help`` included, paid. Each command's ratio to it is how much faster it now starts
  (below 1: slower, as ``status``, which also imports the daemon's module);
- ``python -c "import watcher.store"``: what any command that opens the database pays for the
  store's libraries (SQLAlchemy, SQLModel, Alembic) before it does anything.

Exit status 1 when a median misses its target.
"""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "summit-watch.yaml"
EAGER_IMPORT = (
    "import click, watcher.config, watcher.inputs, watcher.matcher, watcher.pipeline, "
    "watcher.rules, watcher.store"
)


def timed(argv: list[str], runs: int) -> list[float]:
    """Wall times of ``runs`` runs of ``argv`` (stdout and stderr discarded; it must succeed)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        times.append(time.perf_counter() - start)
        # `status` exits 1 when something needs attention (the example's feeds were never polled: no)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.decode()}")
    return times


def example_settings(directory: Path) -> Path:
    """examples/summit-watch.yaml with its database in ``directory`` and the repository's rules."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^database: .*$", f"database: sqlite:///{directory / 'watch.db'}", text)
    text = re.sub(r"(?m)^rules: .*$", f"rules: {REPO / 'rules'}", text)
    path = directory / "summit-watch.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10, help="processes per command (default 10)")
    args = parser.parse_args()
    python = [sys.executable]
    cli = [*python, "-m", "watcher"]
    with tempfile.TemporaryDirectory(prefix="sw-startup-") as tmp:
        settings = example_settings(Path(tmp))
        timed([*cli, "--config", str(settings), "db", "upgrade"], 1)
        floor = statistics.median(timed([*python, "-c", "pass"], args.runs))
        eager = statistics.median(timed([*python, "-c", EAGER_IMPORT], args.runs))
        store = statistics.median(timed([*python, "-c", "import watcher.store"], args.runs))
        print(f"baseline python -c pass: median {floor:.3f} s (the interpreter alone)")
        print(f"baseline eager import (the command line before): median {eager:.3f} s")
        print(f"baseline import watcher.store: median {store:.3f} s (the database's libraries)")
        commands = [
            ("summit-watch --help", ["--help"], 0.15),
            ("summit-watch rules check rules", ["rules", "check", "rules"], 0.15),
            ("summit-watch --config <temp> hits", ["--config", str(settings), "hits"], 0.35),
            ("summit-watch --config <temp> status", ["--config", str(settings), "status"], 0.35),
        ]
        ok = True
        for name, argv, target in commands:
            times = timed([*cli, *argv], args.runs)
            median = statistics.median(times)
            met = median < target
            ok &= met
            print(
                f"{name:<36} median {median:.3f} s, min {min(times):.3f} s; target < {target:.2f} s "
                f"{'met' if met else 'MISSED'}; eager import / median {eager / median:.1f}x, "
                f"median / python -c pass {median / floor:.1f}x"
            )
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
