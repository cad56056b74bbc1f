# One virtualenv per checkout; every target builds it first when needed.
# torch is pinned to the CPU wheel that our machines carry; an unpinned torch pulls a CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0

.PHONY: serve demo test lint bench browser clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# Infinity's generated client pins httpx<0.28 and runs on the newer httpx the rest needs;
	# its other needs (attrs, python-dateutil) come with the dev extra.
	$(BIN)/python -m pip install --quiet --no-deps "infinity-client==0.0.78"
	touch $@

## serve: the REST API and web UI on http://127.0.0.1:8000/ (offline tiny model, random weights!)
serve: $(BIN)/.installed
	$(BIN)/vlrerank serve $(if $(MODEL),--model $(MODEL),)

## demo: rank a text and a photo for a query on the offline tiny model (random weights!)
demo: $(BIN)/.installed
	$(BIN)/vlrerank rank --model tiny-random --query "a red car" \
		--doc "a red car parked by the road" --doc "a bowl of tomato soup" --doc examples/red-car.jpg

## test: lint, type-check and run the whole test suite (browser tests included)
test: $(BIN)/.installed lint browser
	$(BIN)/python -m pytest

## browser: Debian's Chromium for the UI tests (root only; without it those tests are skipped)
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

## bench: engine vs reference throughput on the tiny CPU model
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/engine_throughput.py --arch tiny --requests 10 --out results/engine_tiny_cpu.json

clean:
	rm -rf $(VENV) results .pytest_cache .mypy_cache .ruff_cache
