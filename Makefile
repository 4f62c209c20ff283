# huatu — two commands do all the set-up: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.huatu-installed
# Extra arguments for `huatu serve`, e.g. make run ARGS="--model tiny --port 7861"
ARGS ?=

.PHONY: install run test lint browser-deps screenshots clean bench bench-gpu audit

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU wheel of torch (on this machine class it is already on disk).
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/huatu serve $(ARGS)

# Debian's chromium (Playwright's own browser download does not work here) and a CJK font.
browser-deps:
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi wqy; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check .

# The whole suite, CPU-independent (conftest pins the tiny model to fp32), with its slowest
# tests listed at the end. Audit-size load/fault/fuzz runs are `make audit`'s. It runs on
# TEST_WORKERS pytest-xdist workers (default 2, one per core here), each taking whole files
# (a module's server or Ray cluster is started once); TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: install browser-deps lint
	GRADIO_ANALYTICS_ENABLED=False $(BIN)/pytest --durations=20 -n $(TEST_WORKERS) --dist loadfile

# Re-take the README's screenshots (docs/*.png) from the browser tests.
screenshots: install browser-deps
	HUATU_UPDATE_SCREENSHOTS=1 GRADIO_ANALYTICS_ENABLED=False $(BIN)/pytest -m browser

# SD 1.5 architecture with random weights: baseline vs huatu; writes bench/results/latest.json.
# make bench QUICK=1 is the short run (under 15 minutes on the slowest CPU class).
bench: install
	$(BIN)/python -m huatu.bench $(if $(QUICK),--quick,)

# On a machine with a CUDA GPU: SD 1.5 architecture, fp16, SDPA, channels_last, batch 1 at
# 512²: it/s, s per 20-step image, peak memory; COMPILE=1 adds torch.compile. Writes
# bench/results/gpu.json; says so and stops where torch sees no GPU.
bench-gpu: install
	$(BIN)/python -m huatu.bench.gpu $(if $(COMPILE),--compile,)

# The load, fault and fuzz suites at a larger size, printing their figures (served, refused,
# errors, p50/p95 latency; examples tried): 32 clients x 10 requests, ten times the fuzz
# examples (random), five kill -9 rounds with real restarts. `make test` runs each of these
# suites at a bounded size that still asserts their promises.
audit: install
	HUATU_AUDIT=1 GRADIO_ANALYTICS_ENABLED=False $(BIN)/pytest -s -q \
		tests/test_load.py tests/test_faults.py tests/test_fuzz.py tests/test_secrets.py tests/test_security.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
