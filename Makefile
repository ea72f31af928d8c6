# The README's two commands: `make setup` and `make test` (.ci/run calls exactly these).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup test lint bench-quick clean

setup:
	bash scripts/setup.sh

test:
	$(PY) -m ruff check .
	$(PY) -m pytest

lint:
	$(PY) -m ruff check .

bench-quick:
	for b in $$($(PY) bench/run.py --list); do $(PY) bench/run.py $$b --quick || exit 1; done

clean:
	rm -rf build
