# tickrelay: the one entry point. The README and CI call these targets.
#   make run    build the SDK and the server, start it on 127.0.0.1:8080 with the browser demo
#   make test   install what tests need, then every test: Go (-race), fuzz (short), JS, browser
#   make fuzz   every fuzz target for FUZZEXECS executions (default 5,000,000: 1.5-3.5 min each)
#   make bench  quick benchmarks (≤ 2 min); make bench-full for the whole set
#   make bench-colyseus  Colyseus 0.16 on Node serving the arena workload, measured like tickrelay
#               (npm ci in bench/colyseus, then its self-check, 500 clients and the 1,250 probe)
#   make cluster  a local redis-server and three instances on 127.0.0.1:8081-8083 with the demo
#   make chaos  arena-cluster under every Redis and instance fault of issue 10, bigger and longer
#               than make test's short version (≈ 6 min); result lines in bench/out/chaos.jsonl;
#               then issue 12's failover faults at full size (bench/failover: 1,000 bots, kill -9)
SHELL := /bin/bash
GO ?= go
LISTEN ?= 127.0.0.1:8080
BIN := bin/tickrelay

.PHONY: cluster chaos run build sdk deps test test-go test-js lint fuzz fuzz-short bench bench-full bench-colyseus clean

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)

build:
	$(GO) build -ldflags "-X github.com/tickrelay/tickrelay/server/app.buildVersion=$(VERSION)" -o $(BIN) ./server/cmd/tickrelay

deps:
	@bash .ci/deps.sh

# The SDK as an npm tarball (it is not on the registry yet): npm install <path>/bin/tickrelay-client-*.tgz
sdk-pack: sdk
	@mkdir -p bin
	cd client-js && npm pack --silent --pack-destination ../bin

sdk:
	@[ -d client-js/node_modules ] || (cd client-js && npm ci --no-audit --no-fund --loglevel=error)
	cd client-js && npm run build --silent

# A development secret generated once and kept (git-ignored), so tokens and open demo tabs
# survive a restart of make run. Delete the file to rotate it.
DEV_SECRET := .tickrelay-dev-secret

$(DEV_SECRET):
	@umask 077 && head -c 32 /dev/urandom | base64 > $@
	@echo "tickrelay: generated a development secret in $@ (git-ignored; delete it to rotate)"

run: build sdk $(DEV_SECRET)
	@echo "tickrelay: open http://$(LISTEN)/ for the demo (Ctrl-C stops it)"
	./$(BIN) --listen $(LISTEN) --demo client-js/demo --sdk client-js/dist/browser --secret-file $(DEV_SECRET)

cluster: build sdk $(DEV_SECRET)
	@BIN=$(BIN) SECRET=$(DEV_SECRET) bash .ci/cluster.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test-go:
	$(GO) test -race -count=1 -timeout 10m ./...

fuzz-short:
	FUZZEXECS=$${FUZZEXECS:-400000} bash .ci/fuzz.sh

test-js: deps
	cd client-js && npm run build --silent && npm run typecheck && npm test && npm run size
	cd client-js && npm run test:integration
	cd client-js && npm run test:browser

test: deps lint test-go fuzz-short test-js
	@echo "make test: all passed"

fuzz:
	FUZZEXECS=$${FUZZEXECS:-5000000} bash .ci/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./protocol ./game
	-$(GO) run ./bench/cmd/loadgen -scenario floor -matches 50 -players 10 -warmup 3s -duration 10s -label "make bench"
	-$(GO) run ./bench/cmd/loadgen -scenario arena -matches 50 -players 10 -warmup 3s -duration 10s -label "make bench"
	@echo "bench: result lines appended to bench/out/results.jsonl (make bench-full for every workload)"

bench-full:
	bash bench/full.sh

bench-colyseus:
	bash bench/colyseus/run.sh

clean:
	rm -rf bin client-js/dist

CHAOS_MATCHES ?= 20
CHAOS_FAULTS ?= redis-kill9 redis-sigstop redis-debug-sleep redis-client-kill redis-obl instance-kill9
# issue 12's failover faults with real processes (bench/failover): test:matches:bots per match:spread
# (instances the bots connect to; 1: all on the owner, so that all 1,000 reconnect after the kill -9)
CHAOS_FAILOVER ?= TestFailoverKill9:100:10:1 TestFailoverSigstop:20:10:3 TestFailoverDrain:50:10:3
chaos:
	@fail=0; for f in none $(CHAOS_FAULTS); do \
	  fault=$$f; [ "$$f" = none ] && fault=""; \
	  echo "== chaos: arena-cluster, fault $$f"; \
	  $(GO) run ./bench/cmd/loadgen -scenario arena-cluster -matches $(CHAOS_MATCHES) -players 10 \
	    -warmup 3s -duration 30s -fault "$$fault" -fault-at 5s -fault-for 5s \
	    -out bench/out/chaos.jsonl -label "make chaos" || fail=1; \
	done; \
	for spec in $(CHAOS_FAILOVER); do \
	  IFS=: read -r test m p s <<< "$$spec"; \
	  echo "== chaos: failover $$test, $$m matches × $$p bots, 3 instances"; \
	  $(GO) test -count=1 -v -timeout 15m -run "^$$test$$" ./bench/failover \
	    -args -failover.matches $$m -failover.players $$p -failover.spread $$s || fail=1; \
	done; \
	if [ $$fail = 0 ]; then echo "make chaos: all passed"; else echo "make chaos: FAILED (see above)"; exit 1; fi
