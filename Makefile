# nnreg_keras: `make report` regenerates everything, `make test` runs the tests.
# Both create .venv on first use and install the exact versions of requirements.txt, then the package.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# `make report` runs the profile PROFILE names (default: default). A single notebook's target alone
# (`make reports/runs/NN_name/run.json`) keeps the profile of the last report (reports/.profile), so
# that one notebook does not make every other one stale.
ifeq ($(origin PROFILE),undefined)
ifneq ($(filter reports/runs/%,$(MAKECMDGOALS)),)
ifeq ($(filter-out reports/runs/%,$(MAKECMDGOALS)),)
PROFILE := $(or $(shell cat reports/.profile 2>/dev/null),default)
endif
endif
endif
PROFILE ?= default
STUDENT ?= student
BACKENDS ?= tensorflow jax torch
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONDONTWRITEBYTECODE := 1
# Notebooks run side by side, as many at once as there are cores (`make -j1 report`: one at a
# time; `make -jN report`: N). A -j on the command line overrides this default.
NPROC := $(shell nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 1)
MAKEFLAGS += -j$(NPROC)
# How many at once, as make runs them (MAKEFLAGS holds the effective -j inside a recipe).
JOBS = $(or $(patsubst -j%,%,$(filter -j%,$(MAKEFLAGS))),as many as there are notebooks)
# Side by side, the notebooks share the cores: one thread each for TensorFlow's and XLA's pools
# (measured by `make bench`); `make report ONE_THREAD_EACH=` keeps the defaults.
ONE_THREAD_EACH ?= TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \
  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
SIDE_BY_SIDE = $(filter-out -j1,$(filter -j%,$(MAKEFLAGS)))

NOTEBOOKS := $(sort $(wildcard tutorials/*.ipynb))
STEMS := $(basename $(notdir $(NOTEBOOKS)))
# Each notebook lands as reports/runs/NN_name/ in one step; its stamp run.json is make's target.
# A one-off run (`run 01 -p ...`) dates its stamp back to 1970, so the next `make report` reruns it.
RUNS := $(patsubst tutorials/%.ipynb,reports/runs/%/run.json,$(NOTEBOOKS))
# The order they start in under -jN: longest first, by the duration each one's last run recorded in
# its stamp, or, never run here, by the time `make bench` last measured (benchmarks/
# notebook_seconds.txt); else first, in file order. Notebooks side by side then finish close together.
RUNS_LONGEST_FIRST := $(shell for run in $(RUNS); do \
  seconds=$$(sed -n 's/^  "duration": \([0-9.]*\),*$$/\1/p' $$run 2>/dev/null); \
  stem=$${run#reports/runs/}; stem=$${stem%/run.json}; \
  : $${seconds:=$$(awk -v s="$$stem" '$$1 == s {print $$2}' benchmarks/notebook_seconds.txt 2>/dev/null)}; \
  echo "$${seconds:-1e9} $$run"; done | sort -s -k1,1gr | cut -d' ' -f2)
# The lesson library, the code the notebooks run: a change to it reruns them. The pipeline
# (nnreg_keras/pipeline/) is not in it: a change there rebuilds only what it makes.
LIBRARY := $(wildcard nnreg_keras/*.py)

ifeq ($(wildcard params/$(PROFILE).yaml),)
$(error PROFILE=$(PROFILE): there is no params/$(PROFILE).yaml; available profiles: $(basename $(notdir $(wildcard params/*.yaml))))
endif

.DEFAULT_GOAL := help
.PHONY: help report student test test-backends quick-run bench lock clean distclean FORCE

help: ## show this list
	@echo "make report [PROFILE=quick]   execute tutorials/*.ipynb and build reports/index.html"
	@echo "                              ($(NPROC) notebooks at a time, one per core; make -j1 report: one at a time)"
	@echo "make reports/runs/NN_name/run.json   execute one notebook with the last report's profile"
	@echo "make student [STUDENT=dir]    student editions of every notebook in student/ (solutions blanked)"
	@echo "make test                     run the test suite (includes every notebook, quick profile)"
	@echo "make test-backends            training tests and every notebook (quick) on each installed backend"
	@echo "make quick-run [QUICK_REPORTS=dir]   every notebook, quick profile, on KERAS_BACKEND"
	@echo "make bench                    time the training loops side by side, and each notebook's phases"
	@echo "make lock                     pin every dependency of pyproject.toml anew in requirements.txt"
	@echo "make clean                    delete reports/ (generated)"
	@echo "make distclean                also delete .venv, and build/ and dist/ of pip install ."
	@echo "profiles: $(basename $(notdir $(wildcard params/*.yaml)))"

# The environment: exactly the versions in requirements.txt (with the dev and jax extras), then
# the package itself without dependencies. A newer lock or pyproject.toml installs again.
# uv, at the version the lock pins, installs them in about 15 s where pip takes a minute, compiled
# to bytecode as pip does (PYTHONDONTWRITEBYTECODE keeps Python from caching any later, and without
# it each `import keras` takes 8 s instead of 3). Where uv cannot (an index only pip is configured
# for), pip installs them.
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
UV_PIN = $(shell sed -n 's/^\(uv==[^ ;]*\).*/\1/p' requirements.txt)
$(INSTALLED): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "nnreg_keras needs Python 3.10 or newer; set PYTHON=python3.x")'
	@echo "setting up $(VENV) from requirements.txt (first run only) ..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if $(PIP) "$(UV_PIN)" && $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) \
	  -r requirements.txt \
	  && $(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .; then :; else \
	  echo "uv could not install them; pip does (about a minute) ..."; \
	  $(PIP) -r requirements.txt && $(PIP) --no-deps -e . || exit 1; fi
	@touch $@

# Resolve pyproject.toml's dependencies (and the dev and jax extras) anew, for every platform and
# Python version the package supports, and pin the result. Review the diff, then run `make test`.
lock: | $(INSTALLED)
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --extra jax --universal --quiet \
		--custom-compile-command "make lock" --output-file requirements.txt

# Before anything is run or written, `nnreg_keras check` does what a run of every notebook checks
# first (the profile, each notebook's parameters, KERAS_BACKEND, a reports/ holding only what the
# package wrote), undoes what killed runs left, and prints the stamps of landed runs that are
# damaged or incomplete (a results file, a figure, a page) or not the profile's run (a one-off
# run): those are rerun whatever their files' times say. It runs once, while make reads this
# file; if it fails, reports/.profile's recipe runs it again to show why, and stops.
ifneq ($(filter report reports/%,$(MAKECMDGOALS)),)
STALE := $(shell test -x $(PY) && $(PY) -m nnreg_keras check --profile $(PROFILE) 2>/dev/null \
  || echo CHECK-FAILED)
endif
$(filter reports/%,$(STALE)): FORCE

# The profile of the last run; a different PROFILE makes every notebook stale. It is written only
# once the profile has passed the check, so a failed PROFILE=bad leaves the last one in place.
reports/.profile: FORCE | $(INSTALLED)
	@$(if $(filter CHECK-FAILED,$(STALE)),$(PY) -m nnreg_keras check --profile $(PROFILE) >/dev/null,true)
	@mkdir -p reports
	@$(if $(filter report,$(MAKECMDGOALS)),echo "notebooks: $(JOBS) at a time on $(NPROC) cores (longest first; make -j1 report: one at a time)")
	@echo "$(PROFILE)" | cmp -s - $@ || echo "$(PROFILE)" > $@

# The notebooks there are; adding or deleting one rebuilds the report (which drops deleted ones).
reports/.notebooks: FORCE
	@mkdir -p reports
	@echo "$(NOTEBOOKS)" | cmp -s - $@ || echo "$(NOTEBOOKS)" > $@

reports/runs/%/run.json: tutorials/%.ipynb params/$(PROFILE).yaml $(LIBRARY) reports/.profile | $(INSTALLED)
	@$(if $(SIDE_BY_SIDE),$(ONE_THREAD_EACH)) $(PY) -m nnreg_keras run $* --profile $(PROFILE) --number-among-all --no-report

reports/index.html: $(RUNS_LONGEST_FIRST) reports/.notebooks $(wildcard templates/*) nnreg_keras/pipeline/report.py nnreg_keras/render.py | $(INSTALLED)
	@$(PY) -m nnreg_keras report --prune

report: reports/index.html
	@echo "reports/index.html is up to date (profile $(PROFILE))"

# Student editions: each solution region blanked, outputs stripped, check cells kept (see
# tutorials/README.md). Only files that are student editions are replaced in $(STUDENT)/.
student: | $(INSTALLED)
	@$(PY) -m nnreg_keras student $(STUDENT) --tutorials tutorials

# Lint first (seconds), then the suite. Notebooks are linted but not reformatted: their cells are
# written compact for reading, and ruff format would stretch many past the 30-line limit of a cell.
test: | $(INSTALLED)
	@$(VENV)/bin/ruff check nnreg_keras tests benchmarks tutorials
	@$(VENV)/bin/ruff format --check --quiet nnreg_keras tests benchmarks
	@$(PY) -m pytest -q -n $(NPROC) --dist loadgroup

# Every notebook with the quick profile into QUICK_REPORTS (a new temporary directory if unset),
# on the backend KERAS_BACKEND names: QUICK_JOBS at a time (one per core), one thread each, the
# last first, then the report.
QUICK_JOBS ?= $(NPROC)
quick-run: | $(INSTALLED)
	@out=$${QUICK_REPORTS:-$$(mktemp -d)}; \
	printf '%s\n' $(STEMS) | sort -r | $(ONE_THREAD_EACH) xargs -P$(QUICK_JOBS) -I{} \
	  $(PY) -m nnreg_keras run {} --profile quick --reports $$out --no-report || exit 1; \
	$(PY) -m nnreg_keras report --reports $$out

# Per backend: the training tests, then every notebook with the quick profile into a temporary reports
# directory (quick-run); then the largest difference in each notebook's metrics between backends.
# With NNREG_QUICK_REPORTS=DIR set (as CI does), a backend whose quick run is already in
# DIR/<backend> is not run again: `make test` keeps its quick run there, and it has run the
# training tests on that backend too.
# Results are compared between backends, not bit for bit.
test-backends: | $(INSTALLED)
	@out=$$(mktemp -d); tested=""; skipped=""; \
	for backend in $(BACKENDS); do \
	  if ! $(PY) -c "import $$backend" 2>/dev/null; then skipped="$$skipped $$backend"; continue; fi; \
	  echo "== KERAS_BACKEND=$$backend"; \
	  if [ -n "$$NNREG_QUICK_REPORTS" ] && [ -d "$$NNREG_QUICK_REPORTS/$$backend/runs" ]; then \
	    echo "training tests and notebooks: run by make test, its quick run kept in $$NNREG_QUICK_REPORTS/$$backend"; \
	    cp -r "$$NNREG_QUICK_REPORTS/$$backend" $$out/$$backend; \
	  else \
	    KERAS_BACKEND=$$backend $(PY) -m pytest -q -p no:cacheprovider tests/test_training.py tests/test_twin.py \
	      tests/test_models_analysis.py || exit 1; \
	    KERAS_BACKEND=$$backend $(MAKE) --no-print-directory quick-run QUICK_REPORTS=$$out/$$backend || exit 1; \
	  fi; \
	  tested="$$tested $$backend"; \
	done; \
	$(PY) benchmarks/compare_backends.py $$out/*; \
	echo "tested:$${tested:- none}; skipped (not installed):$${skipped:- none}; outputs in $$out"

# The training loops side by side (model-steps per second, on each installed backend), then the
# seconds per phase of one run of each notebook with PROFILE (benchmarks/bench_phases.py).
bench: | $(INSTALLED)
	@$(PY) benchmarks/bench_training.py
	@$(PY) benchmarks/bench_phases.py --profile $(PROFILE)

clean:
	rm -rf reports

distclean: clean
	rm -rf $(VENV) build dist
