# silosim: the commands of the README and the docs, each doing all set-up on a fresh machine.
#   make demo        run the main job
#   make test        run the whole test suite (what CI runs)
#   make test-fast   the edit-test loop: unit tests and in-process command tests (-m "not slow and not e2e")
#   make dashboard   serve the interactive dashboard on http://127.0.0.1:8765
#   make docs        build the documentation site into site/ (make docs-serve: http://127.0.0.1:8000)
# All create .venv with Python 3.12 and install silosim and its dependencies into it.

SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Python 3.12: on PATH, or selected by pyenv through .python-version, or any pyenv 3.12.x.
PY312 := $(shell command -v python3.12 >/dev/null 2>&1 && python3.12 -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && command -v python3.12 || ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -n 1)
DEMO_DIR := outputs/demo/$(shell date +%Y-%m-%d_%H-%M-%S)_headline
# The dashboard listens on this machine only, unless you ask for more (make dashboard DASHBOARD_HOST=0.0.0.0).
DASHBOARD_HOST ?= 127.0.0.1
DASHBOARD_PORT ?= 8765

.PHONY: bytecode demo test test-fast dashboard docs docs-serve docs-images lint bench install notebooks clean

# Installed from the lock (uv.lock): exactly the versions the tests passed with, checked against their hashes
# (docs/how-to/reproducible-installs.md). uv itself comes from PyPI at the version the lock holds, through the venv's pip.
# --compile-bytecode writes every installed module's .pyc once, at install: where PYTHONDONTWRITEBYTECODE is set
# (as on the project's machines) Python never writes them itself, and every process (each command, each worker,
# each test that starts one) compiled pandas, SciPy, Mesa and the rest from source again: 6.4 CPU s to import the
# engine and the task, 2.3 with the bytecode. `bytecode` does the same for silosim's own modules before the tests
# and the demo (only the files changed since; a stale .pyc is never used, Python checks the source's time).
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
$(STAMP): pyproject.toml uv.lock
	@if [ -z "$(PY312)" ]; then echo "silosim needs Python 3.12 (python3.12 on PATH, or pyenv install 3.12)." >&2; exit 1; fi
	@echo "Creating $(VENV) with $(PY312) and installing silosim from uv.lock ..."
	@test -x $(BIN)/python || $(PY312) -m venv $(VENV)
	@test -x $(BIN)/uv && [ "$$($(BIN)/uv --version | cut -d' ' -f2)" = "$(UV_VERSION)" ] || \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	@UV_PYTHON_DOWNLOADS=never $(BIN)/uv sync --quiet --locked --extra dev --extra docs --python $(BIN)/python \
		--compile-bytecode
	@touch $(STAMP)
install: $(STAMP)

bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q sim hydra_plugins

demo: bytecode
	@$(BIN)/silosim-compare out=$(DEMO_DIR)

test: bytecode
	@.ci/ensure_chromium
	@$(BIN)/python -m pytest -n auto

# Leaves out the tests marked slow (long runs, studies, browsers) and e2e (console scripts started as processes).
test-fast: bytecode
	@$(BIN)/python -m pytest -n auto -m "not slow and not e2e"

# Executes the notebooks into docs/notebooks/, the executed copies the site renders (committed, like docs/img/).
notebooks: $(STAMP)
	@$(BIN)/python notebooks/build.py --execute docs/notebooks

# Solara's usage telemetry and its PyPI version check are off: a local what-if tool has no reason to
# phone home, and the suggested upgrade would break the offline front end (see pyproject.toml).
dashboard: $(STAMP)
	@echo "silosim dashboard: http://$(DASHBOARD_HOST):$(DASHBOARD_PORT)  (Ctrl-C stops it)"
	@SOLARA_TELEMETRY_MIXPANEL_ENABLE=False $(BIN)/solara run sim.dashboard.page --production --no-check-version \
		--host $(DASHBOARD_HOST) --port $(DASHBOARD_PORT)

# The documentation site (mkdocs.yml; docs/hooks.py generates the reference pages from the code at every build).
# Strict: a broken link or anchor, or a page left out of the navigation, fails the build (tests/test_docs.py too).
# Its packages are the `docs` extra, installed from the lock with everything else.
DOCS_PORT ?= 8000

docs: $(STAMP)
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site
	@echo "silosim docs: site/index.html"

docs-serve: $(STAMP)
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT)

# Remakes the site's screenshots and figures (docs/img/) from the current code: runs, Chromium, LibreOffice (minutes).
docs-images: $(STAMP)
	@.ci/ensure_chromium
	@$(BIN)/python docs/make_images.py

lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/lint-imports

bench: $(STAMP)
	@$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) outputs .pytest_cache site
