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

.PHONY: demo test lint bench install browser charts

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# An editable install leaves src/ uncompiled: compiled here, so a shell that sets PYTHONDONTWRITEBYTECODE
# (CI's) does not compile costledger's modules again in every command (~0.2 s each).
$(RUNTIME): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q --disable-pip-version-check -e .
	$(BIN)/python -m compileall -q src >/dev/null
	rm -f $(VENV)/.runtime-* && touch $(RUNTIME)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m compileall -q src >/dev/null
	rm -f $(VENV)/.installed-* $(VENV)/.runtime-* && touch $(STAMP) $(RUNTIME)

# The dashboard's charting library: plotly.js's basic bundle from npm (package.json). Without
# npm the dashboard serves the full bundle of the plotly Python package instead.
CHARTS := node_modules/plotly.js-basic-dist-min/plotly-basic.min.js

$(CHARTS): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --ignore-scripts --loglevel=error \
	  || echo "npm ci failed: the dashboard will serve plotly's full bundle"; \
	else echo "no npm: the dashboard will serve plotly's full bundle"; fi

charts: $(CHARTS)

install: $(STAMP) charts

demo: $(RUNTIME) charts
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
test: $(STAMP) browser charts lint
	$(BIN)/python -m pytest -q -n auto --dist loadfile

bench: $(STAMP) charts
	$(BIN)/python -m bench
