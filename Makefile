# `make test` and `make demo` work on a fresh machine: they create .venv, install torch
# (pinned, first: an unpinned torch pulls the multi-GB CUDA stack), then clinfair.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.clinfair-installed
PYTEST_ARGS ?=
# pip prints what it collects and downloads, so a first install (minutes) is visibly working;
# `make install PIP_QUIET=--quiet` hides it.
PIP_QUIET ?=

.PHONY: install browser test test-vllm demo lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "== installing torch 2.13.0 into $(VENV) (1/2; pinned, first)"
	$(PY) -m pip install $(PIP_QUIET) torch==2.13.0
	@echo "== installing clinfair and its dependencies into $(VENV) (2/2)"
	$(PY) -m pip install $(PIP_QUIET) -e '.[dev]'
	touch $(STAMP)

# The leaderboard's browser tests drive headless Chromium. Where /usr/bin/chromium is missing and
# apt-get exists (CI's Debian images), install Debian's chromium + chromium-driver, as root or with
# passwordless sudo. Elsewhere nothing is installed and those tests skip, saying why.
# SKIP_BROWSER_INSTALL=1 skips this step.
browser:
	@if [ -z "$(SKIP_BROWSER_INSTALL)" ] && [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo -n"; fi; \
	  echo "installing chromium and chromium-driver for the browser tests"; \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	fi

# pytest exits 5 when it collects no test: say so, and fail (a run that tests nothing is not green).
test: $(STAMP) browser
	$(PY) -m pytest -q $(PYTEST_ARGS); status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; fi; exit $$status

# The `vllm` tier on the real engine, in its own environment (.venv-vllm: vLLM's CUDA build with a
# GPU, its CPU build without; see .ci/vllm-venv and docs/development.md). Never part of `make test`.
VLLM_VENV ?= .venv-vllm
$(VLLM_VENV)/.installed: pyproject.toml .ci/vllm-venv
	VLLM_VENV=$(VLLM_VENV) PYTHON=$(PYTHON) .ci/vllm-venv

test-vllm: $(VLLM_VENV)/.installed
	$(VLLM_VENV)/bin/python -m pytest -q -m vllm -p no:cacheprovider $(PYTEST_ARGS) tests/test_vllm_engine.py

demo: $(STAMP)
	$(VENV)/bin/clinfair demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PYTHON=$(PY) .ci/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(VLLM_VENV) .pytest_cache .ruff_cache *.egg-info
