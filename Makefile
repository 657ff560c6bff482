# Two commands: `make lab` (set up if needed, start JupyterLab) and `make test` (set up, run all tests).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.ctkd-installed
PORT   ?= 8888
# extra `jupyter lab` flags, e.g. make lab LAB_FLAGS="--no-browser --ServerApp.ip=0.0.0.0" (in a container)
LAB_FLAGS ?=
# test processes side by side (pytest-xdist): one per core of the 2-core CI machine; TEST_JOBS=1 for one process
TEST_JOBS ?= 2

.PHONY: setup lab test test-fast lint notebooks benchmark gpu-check clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name ctkd-lab --display-name "Python (ctkd-lab)"
	@touch $(STAMP)

# jupyter_server_config.py: runs as root too, strips outputs of lessons on save (a copy with outputs goes to
# notebooks/outputs/), one kernel (ctkd-lab), a true Busy while cells run (lab_settings/overrides.json)
lab: setup
	$(PY) scripts/results_pages.py
	$(VENV)/bin/jupyter lab --config=jupyter_server_config.py --notebook-dir=notebooks --port=$(PORT) $(LAB_FLAGS)

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(TEST_JOBS) --dist worksteal --durations=25

test-fast: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -n $(TEST_JOBS) --dist worksteal -m "not slow"

lint: setup
	$(PY) -m ruff check .

notebooks: setup
	$(PY) scripts/build_notebooks.py --out build

benchmark: setup
	$(PY) benchmarks/throughput.py

# the first command on a CUDA machine: GPU tests, every method under bf16 + --deterministic, resume on CUDA,
# torchrun with nccl (2 GPUs), a throughput table; one summary (each part skipped, one line, without a GPU)
gpu-check: setup
	$(PY) scripts/gpu_check.py

clean:
	rm -rf build .pytest_cache
