# Sprintboard: `make up` runs the whole stack, `make test` runs every check. Both set themselves up.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=

.PHONY: help uv sync browser node docker up test test-containers test-js lint check pytest fmt bench bench-quick screenshots clean

help:
	@echo "make up          run PostgreSQL, NATS, backlog and notifier (embedded unless URLs are given)"
	@echo "make test        install what is missing, lint, type-check and run every test (make test-containers too)"
	@echo "make pytest      every Python test but the container suites; make test-containers: those alone (containers/)"
	@echo "make test-js     the board's JavaScript unit tests (node --test; no npm packages)"
	@echo "make lint        ruff, mypy and import-linter only"
	@echo "make screenshots retake the README's board screenshots in Chromium"
	@echo "make bench       full benchmarks (~30 min, writes docs/benchmarks.md); make bench-quick: ~5 min"

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

sync: uv
	@$(UV) sync --locked --all-packages --quiet

# The browser tests drive Debian's Chromium (playwright cannot download its own build here); the board's unit
# tests need Node.js (18 or later: node:test); the container suites need a Docker engine and debootstrap (for the
# stand-in images). Each is installed when missing.
APT_INSTALL = if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1); fi

browser:
	@command -v chromium >/dev/null 2>&1 || { $(call APT_INSTALL,chromium); }

node:
	@command -v node >/dev/null 2>&1 || { $(call APT_INSTALL,nodejs); }

docker:
	@{ command -v dockerd >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1; } || { $(call APT_INSTALL,docker.io debootstrap); }

up: sync
	@$(RUN) python -m sprintboard_devstack.up

lint: sync
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports

# The end-to-end suites run embedded here (make test-containers runs them in containers).
pytest: sync browser
	SPRINTBOARD_E2E_MODE=$${SPRINTBOARD_E2E_MODE:-embedded} $(RUN) pytest $(PYTEST_ARGS)

# The board's pure modules (static/store.js, api.js's casing), with node's own test runner.
JS_TESTS := $(wildcard services/backlog/tests/entrypoints/web/*.test.mjs)

test-js: node
	node --test $(JS_TESTS)

# The system suites against the images built from the Dockerfiles (testcontainers) and the compose smoke
# tests: starts a Docker engine when none answers; stand-ins for images no registry can give
# (containers/standins.sh prints the compose variables naming them).
test-containers: sync docker
	@containers/engine.sh
	@images=$$(containers/standins.sh) && set -a && eval "$$images" && set +a && \
	  SPRINTBOARD_E2E_MODE=containers $(RUN) pytest -m "" tests-e2e/tests/system tests-e2e/tests/containers $(PYTEST_ARGS)

test: lint test-js pytest test-containers

fmt: sync
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

# The README's screenshots (docs/screenshots/), taken by the board test in Chromium.
screenshots: sync browser
	SPRINTBOARD_UPDATE_SCREENSHOTS=1 $(RUN) pytest tests-e2e/tests/board/test_board_view.py -k screenshots

bench: sync
	$(RUN) python -m bench

bench-quick: sync
	$(RUN) python -m bench --quick

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
