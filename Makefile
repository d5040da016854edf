# nnreg_keras: `make report` regenerates everything, `make test` runs the tests.
# Both create .venv on first use and install the exact versions of requirements.lock, then the package.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PROFILE ?= default
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONDONTWRITEBYTECODE := 1

NOTEBOOKS := $(sort $(wildcard tutorials/*.ipynb))
# Each notebook lands as reports/runs/NN_name/ in one step; its stamp run.json is make's target.
# A one-off run (`run 01 -p ...`) dates its stamp back to 1970, so the next `make report` reruns it.
RUNS := $(patsubst tutorials/%.ipynb,reports/runs/%/run.json,$(NOTEBOOKS))
# Code the notebooks run; a change to any of it reruns them (report-only code does not).
LIBRARY := $(filter-out nnreg_keras/report.py nnreg_keras/cli.py,$(wildcard nnreg_keras/*.py))

ifeq ($(wildcard params/$(PROFILE).yaml),)
$(error PROFILE=$(PROFILE): there is no params/$(PROFILE).yaml; available profiles: $(basename $(notdir $(wildcard params/*.yaml))))
endif

.DEFAULT_GOAL := help
.PHONY: help report test bench lock clean distclean FORCE

help: ## show this list
	@echo "make report [PROFILE=quick]   execute tutorials/*.ipynb and build reports/index.html"
	@echo "make reports/runs/NN_name/run.json   execute one notebook (or: $(PY) -m nnreg_keras run NN)"
	@echo "make test                     run the test suite (includes every notebook, quick profile)"
	@echo "make bench                    time the training loops side by side"
	@echo "make lock                     pin every dependency of pyproject.toml anew in requirements.lock"
	@echo "make clean                    delete reports/ (generated)"
	@echo "make distclean                also delete .venv"
	@echo "profiles: $(basename $(notdir $(wildcard params/*.yaml)))"

# The environment: exactly the versions in requirements.lock (with the dev and jax extras), then
# the package itself without dependencies. A newer lock or pyproject.toml installs again.
$(INSTALLED): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "nnreg_keras needs Python 3.10 or newer; set PYTHON=python3.x")'
	@echo "setting up $(VENV) from requirements.lock (first run only; a few minutes) ..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

# Resolve pyproject.toml's dependencies (and the dev and jax extras) anew, for every platform and
# Python version the package supports, and pin the result. Review the diff, then run `make test`.
lock: | $(INSTALLED)
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --extra jax --universal --quiet \
		--custom-compile-command "make lock" --output-file requirements.lock

# The profile of the last run; a different PROFILE makes every notebook stale.
reports/.profile: FORCE
	@mkdir -p reports
	@echo "$(PROFILE)" | cmp -s - $@ || echo "$(PROFILE)" > $@

# The notebooks there are; adding or deleting one rebuilds the report (which drops deleted ones).
reports/.notebooks: FORCE
	@mkdir -p reports
	@echo "$(NOTEBOOKS)" | cmp -s - $@ || echo "$(NOTEBOOKS)" > $@

reports/runs/%/run.json: tutorials/%.ipynb params/$(PROFILE).yaml $(LIBRARY) reports/.profile | $(INSTALLED)
	@$(PY) -m nnreg_keras run $* --profile $(PROFILE) --number-among-all

reports/index.html: $(RUNS) reports/.notebooks $(wildcard nnreg_keras/templates/*) nnreg_keras/report.py | $(INSTALLED)
	@$(PY) -m nnreg_keras report --prune

report: reports/index.html
	@echo "reports/index.html is up to date (profile $(PROFILE))"

test: | $(INSTALLED)
	@$(PY) -m pytest -q

bench: | $(INSTALLED)
	@$(PY) benchmarks/bench_training.py

clean:
	rm -rf reports

distclean: clean
	rm -rf $(VENV)
