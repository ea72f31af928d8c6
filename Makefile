# The README's two commands: `make setup` and `make test` (.ci/run calls exactly these).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup test demo lint bench-quick clean

setup:
	bash scripts/setup.sh

test:
	$(PY) -m ruff check .
	$(PY) -m pytest

# The main job: the real graph rehearsed on the Franka twin with the shipped gripper model
# (videos + heatmaps in demo/; cliport-demo --robot ur5 for the suction UR5).
demo:
	$(PY) -m cliport_bringup.nodes.demo --out demo

lint:
	$(PY) -m ruff check .

bench-quick:
	for b in $$($(PY) bench/run.py --list); do $(PY) bench/run.py $$b --quick || exit 1; done

clean:
	rm -rf build
