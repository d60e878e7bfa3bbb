# The commands a newcomer and CI use. `make serve` installs and starts RepoHub on the embedded
# default; `make test` installs what the tests need and runs the whole suite.
VENV ?= $(or $(REPOHUB_VENV),$(CURDIR)/.venv)
export REPOHUB_VENV := $(VENV)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint bench

serve:
	@scripts/bootstrap.sh runtime
	$(VENV)/bin/repohub serve --host $(HOST) --port $(PORT)

test:
	@scripts/bootstrap.sh test
	@scripts/services.sh
	$(VENV)/bin/ruff check repohub tests benchmarks hooks
	@$(VENV)/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

lint:
	@scripts/bootstrap.sh test
	$(VENV)/bin/ruff check repohub tests benchmarks hooks

bench:
	@scripts/bootstrap.sh test
	$(VENV)/bin/python -m benchmarks.git_bench
