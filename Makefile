# xenapi-netd: `make run` starts the daemon on the embedded defaults; `make test` runs everything.
SHELL := /bin/bash
NODE  ?= node
# The daemon's V8 flags and malloc setting (also in src/main.ts's #! line): see the note there.
DAEMON_NODE_FLAGS ?= --max-semi-space-size=8
DAEMON_ENV ?= MALLOC_ARENA_MAX=1
BACKEND ?= simulated
ARGS ?=
# RESET=1: start over — remove the database (var/xenapi-netd.db and its WAL) before starting.
RESET ?=

.PHONY: all install build install-cli run test test-one test-deps bench docs clean lint format

all: build

node_modules/.install-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.install-stamp

# The addons (src/native.ts loads them; each is optional: docs/install.md, "Addons"): peercred.c
# (SO_PEERCRED for --unix-socket), heap.cc (lowMemory(), C++ against V8), assemble.c (bulk replies
# from compact cached records). scripts/build-addons.sh is the one recipe, also the npm package's
# `install` script: against the running node's headers; a machine without a C/C++ compiler gets a
# note instead of the file, and the daemon runs without it.
ADDON_ENV = NODE="$(NODE)" CC="$(CC)" CXX="$(CXX)"
dist/native/%.node: native/%.c scripts/build-addons.sh
	@$(ADDON_ENV) sh scripts/build-addons.sh $*
dist/native/%.node: native/%.cc scripts/build-addons.sh
	@$(ADDON_ENV) sh scripts/build-addons.sh $*

build: install dist/native/peercred.node dist/native/heap.node dist/native/assemble.node
	npx tsc -p tsconfig.json

# Puts xe-netd (and xenapi-netd) on PATH with `npm link` (into npm's global prefix: /usr/local/bin
# as root; PREFIX=DIR for another) and, where the directory is writable, xe-netd's bash completion.
PREFIX ?=
BASH_COMPLETION_DIR ?= /etc/bash_completion.d
install-cli: build
	$(if $(PREFIX),npm_config_prefix=$(PREFIX)) npm link --no-audit --no-fund
	@if [ -d "$(BASH_COMPLETION_DIR)" ] && [ -w "$(BASH_COMPLETION_DIR)" ]; then \
		install -m 644 share/xe-netd.bash "$(BASH_COMPLETION_DIR)/xe-netd" && echo "bash completion: $(BASH_COMPLETION_DIR)/xe-netd"; \
	else echo "bash completion: source $(CURDIR)/share/xe-netd.bash from ~/.bashrc"; fi

run: build
ifeq ($(RESET),1)
	rm -f var/xenapi-netd.db var/xenapi-netd.db-wal var/xenapi-netd.db-shm var/xenapi-netd-ovs.db var/xenapi-netd-ovs.db-wal var/xenapi-netd-ovs.db-shm
endif
ifeq ($(BACKEND),openvswitch)
	bash scripts/install-test-deps.sh
	bash scripts/run-ovs.sh --db var/xenapi-netd-ovs.db $(ARGS)
else
	$(DAEMON_ENV) $(NODE) $(DAEMON_NODE_FLAGS) dist/src/main.js --backend $(BACKEND) $(ARGS)
endif

test-deps:
	bash scripts/install-test-deps.sh

test: test-deps build
	npx mocha --reporter ./scripts/summary-reporter.cjs

# eslint (eslint.config.js) and prettier (.prettierrc.json) over the code; `make format` rewrites it.
LINT_FILES := "**/*.{ts,cts,cjs,js,mjs}"
lint: install
	npx eslint .
	npx prettier --check --log-level warn $(LINT_FILES)

format: install
	npx prettier --write --log-level warn $(LINT_FILES)

# One test file while developing: `make test-one F=test/xapi/vlan.test.ts` (mocha's --spec would
# be merged with .mocharc.json's spec and run everything).
test-one: build
	@test -n "$(F)" || { echo "usage: make test-one F=test/path/file.test.ts"; exit 2; }
	npx mocha --no-config --exit --timeout 20000 --reporter spec dist/$(patsubst %.ts,%.js,$(F))

bench: build
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "bench needs wrk (apt-get install wrk)"; exit 1; }
	COMPARE=$(COMPARE) $(NODE) dist/test/bench/run.js

docs: build
	$(NODE) dist/scripts/gen-api-doc.js

clean:
	rm -rf dist node_modules/.install-stamp
