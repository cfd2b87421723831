# Two commands run everything (README): `make demo` and `make test`.
# Each creates .venv from python3 and installs the project with its test tools.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench install browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
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
test: $(STAMP) browser lint
	$(BIN)/python -m pytest -q -n auto --dist loadfile

bench: $(STAMP)
	$(BIN)/python -m bench
