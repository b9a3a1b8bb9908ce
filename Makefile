# The README's two commands are `make run` and `make test`; the rest are
# what they are built from.

GO ?= go
# go.mod names the toolchain with the security fixes this module needs;
# auto lets an older installed Go fetch it from the module proxy.
export GOTOOLCHAIN ?= auto

.PHONY: run build test test-integration services-start services-stop chdb-check fuzz bench loadgen vet

# Flags for `make run` and `make loadgen`: make run ARGS='--listen 127.0.0.1:9090'
ARGS ?=

run:
	$(GO) run ./cmd/taskpulse $(ARGS)

build:
	$(GO) build -o taskpulse ./cmd/taskpulse

# Unit tests and the all-in-one pipeline end to end; the Kafka and
# ClickHouse suites join in when TASKPULSE_KAFKA_BROKERS and
# TASKPULSE_CLICKHOUSE_ADDR are set (CI=true makes their absence a failure).
#
# The ClickHouse cluster's fault tests kill one of its servers and stop
# ZooKeeper, so they run after every other test that uses the cluster,
# never beside them.
CLUSTER_FAULTS = ^(TestClickHouseReplicaKilledUnderLoad|TestZooKeeperStoppedUnderLoad)$$
test: vet
	$(GO) test -count=1 -timeout 20m -skip '$(CLUSTER_FAULTS)' ./...
	$(GO) test -count=1 -timeout 10m -run '$(CLUSTER_FAULTS)' ./cmd/taskpulse/

vet:
	$(GO) vet ./...

# Starts real Kafka and ClickHouse on loopback, runs every test against
# them plus the current-ClickHouse SQL check, and stops them again.
test-integration:
	bash .ci/run

services-start:
	bash deploy/kafka.sh start
	bash deploy/clickhouse.sh start

services-stop:
	-bash deploy/kafka.sh stop
	-bash deploy/clickhouse.sh stop

# One target per run: go test fuzzes one at a time.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./ingest/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeFast$$' -fuzztime $(FUZZTIME) ./ingest/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSignals$$' -fuzztime $(FUZZTIME) ./ingest/
	$(GO) test -run '^$$' -fuzz '^FuzzParsePromText$$' -fuzztime $(FUZZTIME) ./ingest/promtext/
	$(GO) test -run '^$$' -fuzz '^FuzzAPI$$' -fuzztime $(FUZZTIME) ./cmd/taskpulse/

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

loadgen:
	$(GO) run ./cmd/taskpulse loadgen $(ARGS)
