# Two commands run everything (README): `make demo` and `make test`.
# Each creates .venv from python3 and installs the project with its test tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench install browser charts

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

# The dashboard's charting library: plotly.js's basic bundle from npm (package.json). Without
# npm the dashboard serves the full bundle of the plotly Python package instead.
CHARTS := node_modules/plotly.js-basic-dist-min/plotly-basic.min.js

$(CHARTS): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --ignore-scripts --loglevel=error \
	  || echo "npm ci failed: the dashboard will serve plotly's full bundle"; \
	else echo "no npm: the dashboard will serve plotly's full bundle"; fi

charts: $(CHARTS)

install: $(STAMP) charts

demo: $(STAMP) charts
	$(BIN)/costledger demo

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
