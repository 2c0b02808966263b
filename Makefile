# Two commands matter: `make demo` and `make test`. Each sets up .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test demo lint bench bench-smoke clean
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
TEMPLATES := template.yaml examples/notes/template.yaml examples/greeter/template.yaml

# The AWS SDK for JavaScript v3 that the local cloud's Node.js runtime provides, as Lambda's does.
NODE_SDK := localcloud/lambda_runner/runtimes/node
NODE_STAMP := $(NODE_SDK)/node_modules/.installed

setup: $(STAMP) $(NODE_STAMP)

$(NODE_STAMP): $(NODE_SDK)/package.json $(NODE_SDK)/package-lock.json
	if command -v npm >/dev/null 2>&1; then \
	  cd $(NODE_SDK) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "make setup: no npm on PATH: Node.js functions of the local cloud get no AWS SDK v3" >&2; fi

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# pytest's exit code 5 means it collected no test: a failure, said out loud. Two workers (pytest-xdist),
# each with its own local cloud, a test file on one worker; TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# KEEP=1 leaves the local cloud running afterwards (until Ctrl-C), with the lines to reach it.
demo: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m demo $(if $(filter 1 yes true,$(KEEP)),--keep)

# aws-sam-cli pins its own boto3 and click, so it lives in a virtual environment of its own.
$(SAM): Makefile
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==1.170.0
	touch $(SAM)

lint: $(STAMP) $(SAM)
	$(BIN)/ruff check src localcloud tests bench demo
	$(BIN)/mypy
	$(BIN)/cfn-lint -- $(TEMPLATES)
	for t in $(TEMPLATES); do SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 $(SAM) validate --lint -t $$t || exit 1; done
	$(BIN)/statelint --ignore=URI statemachines/*.asl.json

# Every bench/bench_*.py, one after another, with the machine's cores and load named (bench/run.py).
# `make bench` prints the figures; `make bench-smoke` (CI) runs each at its smallest size (--smoke), to
# check that it works, never how fast. Both run every bench, and fail when any failed.
bench: $(STAMP) $(NODE_STAMP)
	$(BIN)/python bench/run.py

bench-smoke: $(STAMP) $(NODE_STAMP)
	$(BIN)/python bench/run.py --smoke --jobs 2 --timeout 600

clean:
	rm -rf $(VENV) $(SAM_VENV) .localcloud .pytest_cache
