# neuralmi — `make demo` runs the main job on built-in data; `make test` runs every check, the docs build included.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck pytest docs demo bench bench-suite peers clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# exactly this torch first: a CPU wheel lies on this machine's disk; an open spec would pull a CUDA build
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(PY) -m pytest

# the docs site (mkdocs-material + mkdocstrings, in the dev extra) into site/; --strict: every warning is an error
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

test: lint typecheck pytest docs

demo: install
	mkdir -p out
	$(VENV)/bin/neuralmi demo --plot out/demo.png --force

bench: install
	$(PY) benchmarks/speed.py

bench-suite: install
	mkdir -p out
	$(VENV)/bin/neuralmi bench --seeds 3 --peers ksg --json out/bench.json --plot out/bench.png --force

# torch-mist (a peer) needs numpy<2 and pandas: its own venv, never a dependency of neuralmi
peers: .peers-venv/.installed

.peers-venv/.installed:
	$(PYTHON) -m venv .peers-venv
	.peers-venv/bin/pip install -q "torch==2.13.0"
	.peers-venv/bin/pip install -q "numpy<2" "torch-mist==0.2.17" pandas
	touch .peers-venv/.installed

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
