# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv and install what they need:
# the demo only the runtime and armsim (requirements-armsim.txt), the tests everything (requirements-dev.txt).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: test demo lint bench chaos clean install chromium

$(PY):
	@echo "==> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --progress-bar off pip

# what the demo needs: poolkeeper's runtime dependencies and armsim (no linters, no infra checkers)
$(DEMO_STAMP): requirements.txt requirements-armsim.txt | $(PY)
	@echo "==> installing the runtime and armsim (requirements-armsim.txt)"
	$(PY) -m pip install --progress-bar off -r requirements-armsim.txt
	touch $(DEMO_STAMP)

$(STAMP): requirements.txt requirements-armsim.txt requirements-dev.txt | $(PY)
	@echo "==> installing everything for the tests (requirements-dev.txt)"
	$(PY) -m pip install --progress-bar off -r requirements-dev.txt
	touch $(STAMP) $(DEMO_STAMP)

install: $(DEMO_STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The report page test renders in headless Chromium (Debian package `chromium`); it fails, never skips, without it.
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "==> installing Debian's chromium for the report page test"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

test: $(STAMP) lint chromium
	$(PY) -m pytest -q

demo: $(DEMO_STAMP)
	@echo "==> running the demo on armsim"
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
