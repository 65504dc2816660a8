# Everything a fresh machine needs: `make run` and `make test` create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint typecheck unit clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt pip setuptools
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-build-isolation -c constraints.txt -e '.[dev]'
	# as a regular install would: with PYTHONDONTWRITEBYTECODE set, an editable install
	# would compile every module from source in every `stackop` process (~0.15 s)
	$(BIN)/python -m compileall -q controller bootstrap stackop_testing
	touch $(STAMP)

run: install
	$(BIN)/python -m controller.devrun

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check controller bootstrap tests bench stackop_testing

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q

test: lint typecheck unit

clean:
	rm -rf $(VENV) .run
