# summit-watch: the README's two commands are `make run` and `make test`.
#
#   make run     create .venv if needed, install the package, run the daemon on the bundled example
#                (examples/summit-watch.yaml: SQLite in .run/, the demo feeds in examples/feeds/;
#                Ctrl-C stops it, exit status 0). ./summit-watch.yaml, a link to it, lets
#                `summit-watch hits` find it.
#   make test    create .venv if needed, install with the test extras, then lint, type-check, test
#   make test-fast  the unit tests only (the pure core and the CLI in-process): seconds, while working
#   make lint    ruff check, ruff format --check, mypy, lint-imports (the layer contracts in pyproject.toml)
#   make bench   the benchmarks in benchmarks/: bench_match, bench_poll, bench_history, bench_startup,
#                bench_dates
#                (bench_soak.py, hours long, is run by hand)
#   make clean   remove .venv and every cache
#
# Variables: PYTHON (interpreter that creates the venv), EXAMPLE_CONFIG (settings file of
# `make run`), PYTEST_ARGS and BENCH_ARGS (extra arguments).
# The package is reinstalled only when pyproject.toml changes (stamp files inside .venv).

PYTHON ?= python3
VENV ?= .venv
EXAMPLE_CONFIG ?= examples/summit-watch.yaml
PYTEST_ARGS ?=
BENCH_ARGS ?=

BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
PIP_INSTALL := $(BIN)/python -m pip install --quiet --no-input --progress-bar off

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := run
.PHONY: run test test-fast lint bench clean

# Ctrl-C goes to the terminal's foreground process group. With job control on (set -m), the daemon
# runs in a group of its own that holds the terminal: Ctrl-C stops it (exit 0), not make.
run: $(RUN_STAMP)
	@if [ ! -e summit-watch.yaml ] && [ "$(EXAMPLE_CONFIG)" = examples/summit-watch.yaml ]; then \
		ln -s examples/summit-watch.yaml summit-watch.yaml; \
		echo "make run: ./summit-watch.yaml links to examples/summit-watch.yaml: run summit-watch hits, status... from here"; \
	fi
	@echo "$(BIN)/summit-watch --config $(EXAMPLE_CONFIG) run"
	@if [ -t 0 ]; then set -m; fi; $(BIN)/summit-watch --config $(EXAMPLE_CONFIG) run

test: lint
	@status=0; \
	echo "$(BIN)/pytest $(PYTEST_ARGS)"; \
	$(BIN)/pytest $(PYTEST_ARGS) </dev/null || status=$$?; \
	if [ $$status -eq 5 ]; then \
		echo "make test: no tests were collected (pytest exit status 5): failing" >&2; \
		exit 1; \
	fi; \
	exit $$status

# Unit tests only, no lint: what to run between edits (`make test` before a commit).
test-fast: $(TEST_STAMP)
	$(BIN)/pytest -m "unit and not slow" -q $(PYTEST_ARGS) </dev/null

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench_match.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/bench_poll.py
	$(BIN)/python benchmarks/bench_history.py
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_dates.py

clean:
	rm -rf $(VENV) .run build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache watcher/*.so
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The install also compiles the matcher's word set (watcher/_wordset.c), so an edit of it reinstalls.
$(RUN_STAMP): pyproject.toml watcher/_wordset.c | $(BIN)/python
	$(PIP_INSTALL) -e .
	@touch $@

# The test install includes everything `make run` needs, so it refreshes the run stamp too.
$(TEST_STAMP): pyproject.toml watcher/_wordset.c | $(BIN)/python
	$(PIP_INSTALL) -e '.[test,postgres]'
	@touch $@ $(RUN_STAMP)
