# The two commands of the README: `make demo` and `make test`. Both set up
# everything they need (a .venv, Debian packages when root) and are cheap the
# second time: the venv is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: demo test test-fast venv deps vendor chips bench clean help

help:
	@echo "make demo      closed-loop demo on embedded defaults (server stub + virtual board)"
	@echo "make test      install everything and run the whole test suite"
	@echo "make test-fast the suite without the slow end-to-end tests"
	@echo "make vendor    re-fetch micropython-lib umqtt from the registry into firmware/lib"
	@echo "make chips     regenerate drivers/candidates.py (the I2C scan's table) from the drivers"
	@echo "make bench     run the benchmarks under bench/"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,broker]'
	@rm -f $(VENV)/.stamp-*
	@touch $@

venv: $(STAMP)

# Debian packages the tests drive for real: Mosquitto, socat (virtual board REPL),
# Chromium (page tests), busybox and shellcheck (image scripts).
deps:
	@$(BIN)/python tools/ensure_debian_packages.py

demo: venv
	$(BIN)/neoc demo

test: venv deps
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	 if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treating as a failure"; exit 1; fi; \
	 exit $$rc

test-fast: venv
	@$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS); rc=$$?; \
	 if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

vendor: venv
	$(BIN)/python tools/vendor_umqtt.py

# The scan's address table is derived from the driver classes (ADDRESSES,
# _IDENTITY); tests/test_chip_table.py fails when it is stale.
chips: venv
	$(BIN)/python tools/gen_chip_table.py

bench: venv deps
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache neoc-data
