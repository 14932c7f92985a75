# Two commands set everything up on a fresh machine (Python >= 3.10 with venv):
#   make demo [DATA_DIR=/folder/that/holds/MNIST]  render a project with the defaults into demo/, train it, test it
#   make test                                       run the template's whole test suite
#   make test-fast                                  the tests marked not slow (minutes), while developing
PYTHON ?= python3
TORCH ?= torch==2.14.1 torchvision==0.29.1
VENV := .venv
PY := $(VENV)/bin/python
DEMO := demo
DATA_DIR ?= data

.PHONY: venv demo test test-fast clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet $(TORCH) --group test  # torch pinned again: nothing may move it
	touch $@

venv: $(VENV)/.installed

demo: venv
	rm -rf $(DEMO)
	$(PY) -m copier copy --trust --defaults --vcs-ref HEAD . $(DEMO)
	cd $(DEMO) && ../$(PY) train.py -c config.json data_loader.args.data_dir=$(abspath $(DATA_DIR))
	cd $(DEMO) && ../$(PY) test.py -r "$$(ls -d saved/models/*/*/ | tail -n 1)model_best.pth" \
		data_loader.args.data_dir=$(abspath $(DATA_DIR))

test: venv
	$(PY) -m pytest

test-fast: venv
	$(PY) -m pytest -m "not slow"

clean:
	rm -rf $(VENV) $(DEMO)
