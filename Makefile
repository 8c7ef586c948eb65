# durascope: the two commands a newcomer needs are `make demo` and `make test`.
# Both set up their own environment (.venv, pip packages, Graphviz and tmux where
# the machine allows it) and are idempotent.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv system-deps demo test lint fmt bench soak clean fixtures

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,tui,notebook]'
	touch $(STAMP)

venv: $(STAMP)

# The `dot` binary (graph rendering) and tmux (the real-terminal TUI test) come
# from the system's packages; install them when missing and we may.
system-deps:
	@missing=""; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	command -v tmux >/dev/null 2>&1 || missing="$$missing tmux"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "note: please install$$missing (graph rendering and the tmux test need them)"; \
	fi

demo: venv system-deps
	$(BIN)/durascope demo

lint: venv
	$(BIN)/ruff check durascope tests bench fixtures examples
	$(BIN)/ruff format --check durascope tests bench fixtures examples
	$(BIN)/mypy
	$(BIN)/lint-imports

test: venv system-deps lint
	$(BIN)/python -m pytest -q

fmt: venv
	$(BIN)/ruff check --fix durascope tests bench fixtures examples
	$(BIN)/ruff format durascope tests bench fixtures examples

bench: venv system-deps
	$(BIN)/python -m bench

# The reliability suite at soak size, with fresh random seeds each run: 100 SIGKILL
# trials of 200 orchestrations, 5,000 orchestrations on three processes, ten times
# the fuzzing.  About half an hour here; `make test` runs the same tests smaller.
soak: venv system-deps
	DURASCOPE_SOAK=1 $(BIN)/python -m pytest -q tests/reliability

fixtures: venv
	$(BIN)/python fixtures/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis durascope-demo.db
