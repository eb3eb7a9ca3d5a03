# spikefold: `make demo` runs the main job end to end, `make test` the tests.
# Both set up .venv first (Python 3.11); re-running setup is a no-op unless
# requirements/ or pyproject.toml changed.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.spikefold-setup
PIP    := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: setup test test-fast test-other-machine demo clean setup-core test-core sanafe

setup: $(STAMP)

$(STAMP): requirements/base.txt requirements/lava.txt requirements/peers.txt requirements/constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (spikefold needs Python 3.11)"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -c requirements/constraints.txt -r requirements/base.txt
	# lava-nc/lava-dl declare Python<3.11 and torch 2.3: install them alone,
	# their real dependencies come from base.txt (see requirements/lava.txt).
	$(PIP) install -q --no-deps --ignore-requires-python -r requirements/lava.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	rm -rf $(VENV)/peers/spikingjelly2
	$(PIP) install -q --no-deps --target $(VENV)/peers/spikingjelly2 -r requirements/peers.txt
	$(BIN)/python -c "import torch; assert torch.__version__.split('+')[0] == '2.14.1', torch.__version__"
	touch $(STAMP)

# The suite runs in 2 pytest-xdist workers of one thread each (the 2-core reference machine sits
# idle half the time in one process).  Float kernels differ by machine (ATen's capability,
# oneDNN's ISA, the thread count): the tests marked `exact` then run again under kernels unlike
# this machine's (README: what is deterministic; tools/kernel_matrix.sh varies the threads too).
PYTEST        := OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2
OTHER_MACHINE := ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1

test: setup
	$(PYTEST)
	$(MAKE) --no-print-directory test-other-machine

test-other-machine: setup
	$(OTHER_MACHINE) $(BIN)/python -m pytest -n 2 -q -m "exact and not slow" -p no:cacheprovider

test-fast: setup
	$(PYTEST) -m "not slow"

demo: setup
	$(BIN)/python -m spikefold.demo

# Without Lava, on any Python spikefold supports (3.11-3.13) and current numpy (2.x): the core,
# whose tests skip what needs an absent extra and say which (README: Python 3.12 and 3.13).
#     make test-core CORE_PYTHON=python3.13
CORE_PYTHON ?= python3.12
CORE_VENV   ?= .venv-$(CORE_PYTHON)

$(CORE_VENV)/.spikefold-core: requirements/core-constraints.txt pyproject.toml
	@command -v $(CORE_PYTHON) >/dev/null || { echo "error: $(CORE_PYTHON) not found"; exit 2; }
	test -x $(CORE_VENV)/bin/python || $(CORE_PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel
	$(CORE_VENV)/bin/python -m pip install -q --disable-pip-version-check -c requirements/core-constraints.txt -e ".[test]"
	touch $@

setup-core: $(CORE_VENV)/.spikefold-core

test-core: setup-core
	OMP_NUM_THREADS=1 $(CORE_VENV)/bin/python -m pytest -n 2 -p no:cacheprovider

# SANA-FE (GPL-3.0), the optional cross-check of the chip's time and energy (bench/sanafe_check.py):
# installed apart, in its own folder that only that script puts on sys.path; spikefold never imports it.
SANAFE := $(VENV)/sanafe

sanafe: setup
	rm -rf $(SANAFE)
	$(PIP) install -q --no-deps --target $(SANAFE) sanafe==2.2.9

clean:
	rm -rf $(VENV) .venv-python3.* .pytest_cache build *.egg-info
