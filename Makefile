# formcoach: `make run` starts the app, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint format bench clean browser services

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/formcoach serve

lint: install
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

# The browser tests drive Debian's Chromium (never a downloaded browser); Japanese pages need
# a CJK font for readable screenshots; the PDF test renders pages with poppler's pdftoppm.
browser: install
	test -x /usr/bin/chromium -a -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc -a -x /usr/bin/pdftoppm || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-cjk poppler-utils)

# The scaled-out tests start their own redis-server beside the machine's one.
services:
	command -v redis-server >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server)

test: install lint browser services
	$(BIN)/pytest

# The quick loop: only tests that need no real video, pose model, browser or server, on two
# workers (pytest-xdist); about half of its time is each worker importing the test modules.
test-fast: install
	$(BIN)/pytest -q -m "not heavy" -n 2

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# Benchmarks are run by hand; each prints a table and writes JSON under bench/results/.
bench: install
	$(BIN)/python bench/pose_bench.py
	$(BIN)/python bench/drill_video_bench.py
	$(BIN)/python bench/workers_bench.py
	$(BIN)/python bench/load_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
