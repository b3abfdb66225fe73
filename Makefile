# silosim: the two commands of the README, each doing all set-up on a fresh machine.
#   make demo   run the main job
#   make test   run the whole test suite
# Both create .venv with Python 3.12 and install silosim and its dependencies into it.

SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Python 3.12: on PATH, or selected by pyenv through .python-version, or any pyenv 3.12.x.
PY312 := $(shell command -v python3.12 >/dev/null 2>&1 && python3.12 -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && command -v python3.12 || ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -n 1)
DEMO_DIR := outputs/demo/$(shell date +%Y-%m-%d_%H-%M-%S)

.PHONY: demo test test-ray lint bench install clean

$(STAMP): pyproject.toml
	@if [ -z "$(PY312)" ]; then echo "silosim needs Python 3.12 (python3.12 on PATH, or pyenv install 3.12)." >&2; exit 1; fi
	@echo "Creating $(VENV) with $(PY312) and installing silosim ..."
	@test -x $(BIN)/python || $(PY312) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@$(BIN)/silosim scenario=siloed_scorecards hydra.run.dir=$(DEMO_DIR)/siloed_scorecards
	@$(BIN)/silosim scenario=closed_loop_followup hydra.run.dir=$(DEMO_DIR)/closed_loop_followup
	@echo
	@echo "Demo outputs: $(DEMO_DIR)/ (one run directory per scenario; columns explained in README.md)"

test: $(STAMP)
	@$(BIN)/python -m pytest

# Opt-in: the Ray launcher against a local Ray instance, in a venv of its own (README, "Running on many cores").
test-ray:
	@test -x .venv-ray/bin/python || $(PY312) -m venv .venv-ray
	@.venv-ray/bin/python -m pip install --quiet -e ".[dev,ray]"
	@SILOSIM_TEST_RAY=1 .venv-ray/bin/python -m pytest tests/test_ray.py -q

lint: $(STAMP)
	@$(BIN)/ruff check sim tests benchmarks

bench: $(STAMP)
	@$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) .venv-ray outputs .pytest_cache
