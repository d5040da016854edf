# nnreg_keras: `make report` regenerates everything, `make test` runs the tests.
# Both create .venv and install requirements.txt and the package on first use.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PROFILE ?= default
REPORTS ?= reports
BACKENDS ?= tensorflow jax torch
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONDONTWRITEBYTECODE := 1
# With -jN (N > 1) notebooks run side by side and share the cores: one thread each for TensorFlow's
# and XLA's pools (measured by `make bench`); `make -j2 report ONE_THREAD_EACH=` keeps the defaults.
ONE_THREAD_EACH ?= TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \
  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
SIDE_BY_SIDE = $(filter-out -j1,$(filter -j%,$(MAKEFLAGS)))

NOTEBOOKS := $(sort $(wildcard tutorials/*.ipynb))
RESULTS := $(patsubst tutorials/%.ipynb,$(REPORTS)/results/%.json,$(NOTEBOOKS))
# Code the notebooks run; a change to any of it reruns them (report-only code does not).
LIBRARY := $(filter-out nnreg_keras/report.py nnreg_keras/cli.py,$(wildcard nnreg_keras/*.py))

ifeq ($(wildcard params/$(PROFILE).yaml),)
$(error PROFILE=$(PROFILE): there is no params/$(PROFILE).yaml; available profiles: $(basename $(notdir $(wildcard params/*.yaml))))
endif

.DEFAULT_GOAL := help
.PHONY: help report test test-backends bench clean distclean FORCE

help: ## show this list
	@echo "make report [PROFILE=quick]   execute tutorials/*.ipynb and build reports/index.html"
	@echo "make -j2 report               the same, two notebooks at a time"
	@echo "make reports/results/NN_name.json   execute one notebook (or: $(PY) -m nnreg_keras run NN)"
	@echo "make test                     run the test suite (includes every notebook, quick profile)"
	@echo "make test-backends            training tests and every notebook (quick) on each installed backend"
	@echo "make bench                    time the training loops side by side"
	@echo "make clean                    delete reports/ (generated)"
	@echo "make distclean                also delete .venv"
	@echo "profiles: $(basename $(notdir $(wildcard params/*.yaml)))"

$(INSTALLED): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "nnreg_keras needs Python 3.10 or newer; set PYTHON=python3.x")'
	@echo "setting up $(VENV) (first run only; about a minute) ..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

# The profile of the last run; a different PROFILE makes every notebook stale.
$(REPORTS)/.profile: FORCE
	@mkdir -p $(REPORTS)
	@echo "$(PROFILE)" | cmp -s - $@ || echo "$(PROFILE)" > $@

$(REPORTS)/results/%.json: tutorials/%.ipynb params/$(PROFILE).yaml $(LIBRARY) $(REPORTS)/.profile | $(INSTALLED)
	@$(if $(SIDE_BY_SIDE),$(ONE_THREAD_EACH)) $(PY) -m nnreg_keras run $* --profile $(PROFILE) --reports $(REPORTS)

$(REPORTS)/index.html: $(RESULTS) $(wildcard nnreg_keras/templates/*) nnreg_keras/report.py | $(INSTALLED)
	@$(PY) -m nnreg_keras report --reports $(REPORTS)

report: $(REPORTS)/index.html
	@echo "$(REPORTS)/index.html is up to date (profile $(PROFILE))"

test: | $(INSTALLED)
	@$(PY) -m pytest -q

# Per backend: the training tests, then every notebook with the quick profile into a temporary reports
# directory; then the largest difference in each notebook's metrics between backends.
test-backends: | $(INSTALLED)
	@out=$$(mktemp -d); tested=""; skipped=""; \
	for backend in $(BACKENDS); do \
	  if ! $(PY) -c "import $$backend" 2>/dev/null; then skipped="$$skipped $$backend"; continue; fi; \
	  echo "== KERAS_BACKEND=$$backend"; \
	  KERAS_BACKEND=$$backend $(PY) -m pytest -q -p no:cacheprovider tests/test_training.py tests/test_twin.py \
	    tests/test_models_analysis.py || exit 1; \
	  KERAS_BACKEND=$$backend $(PY) -m nnreg_keras run --profile quick --reports $$out/$$backend || exit 1; \
	  tested="$$tested $$backend"; \
	done; \
	$(PY) benchmarks/compare_backends.py $$out/*/results; \
	echo "tested:$${tested:- none}; skipped (not installed):$${skipped:- none}; outputs in $$out"

bench: | $(INSTALLED)
	@$(PY) benchmarks/bench_training.py

clean:
	rm -rf $(REPORTS)

distclean: clean
	rm -rf $(VENV)
