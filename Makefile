# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint bench chaos clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: $(STAMP) lint
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) -m poolkeeper demo

# The chaos suite, larger than the CI-sized run inside `make test`: CHAOS_SCALE=5 by default, a fresh seed each time
# unless CHAOS_SEED is given (a failure prints its seed and the command that re-runs it).
CHAOS_SCALE ?= 5
CHAOS_SEED ?= $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
chaos: $(STAMP)
	CHAOS_SCALE=$(CHAOS_SCALE) CHAOS_SEED=$(CHAOS_SEED) $(PY) -m pytest -q -p no:cacheprovider tests/chaos

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .cache .pytest_cache
