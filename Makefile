# Two commands run everything (README): `make demo` and `make test`.
# Both create .venv from python3. `make demo` installs only what running needs; `make test`
# adds the test tools and the SDKs the integration tests drive (the `dev` extra).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUM    := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# One stamp per install, named after pyproject.toml's checksum: editing it reinstalls.
RUNTIME := $(VENV)/.runtime-$(SUM)
STAMP   := $(VENV)/.installed-$(SUM)
# Where `make demo` serves the dashboard: make demo PORT=8123 HOST=0.0.0.0
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: demo test lint bench install browser

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q --disable-pip-version-check -e .
	rm -f $(VENV)/.runtime-* && touch $(RUNTIME)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* $(VENV)/.runtime-* && touch $(STAMP) $(RUNTIME)

install: $(STAMP)

demo: $(RUNTIME)
	$(BIN)/costledger demo --host $(HOST) --port $(PORT)

# Browser tests drive the system Chromium; scripts/browser installs it where it can.
browser:
	@bash scripts/browser

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy

# Test files run in parallel, one worker per core; a file's tests stay on one worker (their
# module-scoped fixtures, such as the dashboard's demo server, are built once).
test: $(STAMP) browser lint
	$(BIN)/python -m pytest -q -n auto --dist loadfile

bench: $(STAMP)
	$(BIN)/python -m bench
