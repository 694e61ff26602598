# proxmon's build. `make test` is what CI runs; see .ci/run.

GO       ?= go
BIN      ?= bin/proxmon
FUZZTIME ?= 10s
PROTOS   := $(wildcard proto/proxmon/v1/*.proto)

.PHONY: all build run test bench fuzz proto lint loadtest clean

all: lint test build

## build: compile the proxmon binary into bin/
build:
	$(GO) build -o $(BIN) ./cmd/proxmon

## run: the demo: the service with its embedded defaults and a small simulated
## fleet of drill cases, alerts printed as they come. Its data is in a fresh
## temporary directory, removed at exit (proxmon demo --data DIR keeps it).
run:
	$(GO) run ./cmd/proxmon demo

## test: vet; every test with the race detector at -short sizes; then the
## randomized geometry and schedule tests at full size (millions of cases),
## which the race detector would slow tenfold for no gain: they share nothing.
test:
	$(GO) vet ./...
	$(GO) test -race -short -count=1 ./...
	$(GO) test -count=1 ./geo/ .

## loadtest: the fixed load of docs/PERFORMANCE.md against proxmon serve, on
## this machine; rewrites the measured part of docs/PERFORMANCE.md and
## docs/perf/ (about 30 minutes; not part of make test)
loadtest:
	$(GO) test -tags loadtest -run '^TestLoad$$' -count=1 -timeout 90m -v ./cmd/proxmon

## bench: every benchmark, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: run each fuzz target for FUZZTIME (scripts/fuzz.sh)
fuzz:
	GO=$(GO) sh scripts/fuzz.sh $(FUZZTIME)

## proto: regenerate the Go code from proto/ with the pinned protoc-gen-go
proto:
	protoc --plugin=protoc-gen-go="$$($(GO) tool -n protoc-gen-go)" \
		-I proto --go_out=. --go_opt=module=github.com/proxmon/proxmon \
		$(PROTOS:proto/%=%)

## lint: gofmt must have nothing to say, go vet nothing to report
lint:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin/
