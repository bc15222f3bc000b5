# Two commands do all set-up on a fresh machine with Python 3.11+, Node 20+ and make:
#   make run    the embedded default: provision the seed dataspace locally and serve it
#   make test   the whole test suite (unit, emulators, browser)
#   make lint   ruff check, ruff format --check and mypy (configured in pyproject.toml)
# make run and make test also need a JDK 17+ and Maven: the EDC runtimes are assembled from
# Maven Central on first use (see README "EDC runtimes").
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PY := .venv/bin/python
MVD := .venv/bin/mvd
LINT_PATHS := mvd_core blueprints function_app.py

.PHONY: run test venv node jdk lint bench clean

venv: .venv/.synced
.venv/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	# Compiled once here: this machine sets PYTHONDONTWRITEBYTECODE, so without it every
	# process compiles its imports again (the kubernetes client alone: about 1.5 s).
	$(UV) sync --frozen --compile-bytecode
	@touch $@

node: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The EDC runtimes need java 17+ (and javac: our extensions are compiled) and mvn.
JDK_HINT := install a JDK 17+ and Maven (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless maven)
jdk:
	@command -v java >/dev/null && command -v javac >/dev/null && command -v mvn >/dev/null \
	  || { echo "make: the EDC runtimes need java, javac and mvn on PATH: $(JDK_HINT)" >&2; exit 1; }
	@v=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1); \
	  [ "$${v:-0}" -ge 17 ] || { echo "make: java is version $${v:-unknown}, the EDC runtimes need 17+: $(JDK_HINT)" >&2; exit 1; }

run: venv jdk
	$(MVD) up

# On TEST_WORKERS pytest-xdist workers; tests/conftest.py keeps each module on one worker and the
# modules that start EDC runtimes together on one. PYTEST_ARGS adds to or overrides that (-n 0: one process).
TEST_WORKERS ?= 2
test: venv node jdk
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# Runs all three checks and fails if any found something, so one run shows every finding.
lint: venv
	@status=0; \
	$(PY) -m ruff check $(LINT_PATHS) tests || status=1; \
	$(PY) -m ruff format --check $(LINT_PATHS) || status=1; \
	$(PY) -m mypy || status=1; \
	exit $$status

bench: venv
	$(PY) benchmarks/engine.py

clean:
	rm -rf .venv node_modules .mvd .pytest_cache test-artifacts
