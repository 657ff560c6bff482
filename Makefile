# Two commands: `make lab` (set up if needed, start JupyterLab) and `make test` (set up, run all tests).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.ctkd-installed
PORT   ?= 8888

.PHONY: setup lab test test-fast lint notebooks benchmark clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name ctkd-lab --display-name "Python (ctkd-lab)"
	@touch $(STAMP)

lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --port=$(PORT)

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest

test-fast: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -m "not slow"

lint: setup
	$(PY) -m ruff check .

notebooks: setup
	$(PY) scripts/build_notebooks.py --out build

benchmark: setup
	$(PY) benchmarks/throughput.py

clean:
	rm -rf build .pytest_cache
