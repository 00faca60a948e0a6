# sluice — the commands a newcomer runs. See README.md ("Quick start", "Testing").
#   make run        install missing packages, build the two binaries (sluiced, sluice), start
#                   sluiced on 127.0.0.1:11210 (data in ./data)
#   make cluster    the same, then etcd and three nodes forming a cluster (scripts/local-cluster.sh)
#   make build      build everything (build/: clang, RelWithDebInfo, -Wthread-safety -Werror)
#   make test       what CI runs (.ci/run): install, then
#                     test-fast  build/ + every test
#                     test-asan  build-asan/ (ASan+UBSan) + every test
#                     test-tsan  build-tsan/ (TSan) + the concurrency tests (TSAN_TESTS)
#                     test-fuzz  build-fuzz/ (libFuzzer) + each fuzzer FUZZ_SECONDS, live-server fuzz
#                   and prints the time of every step
#   make test-fast  the first step only: the developer's loop (checks the include graph and the
#                   formatting first: make check-includes, scripts/check-includes.py; make
#                   format-check)
#   make fuzz       each fuzzer FUZZ_LONG_SECONDS (crash inputs go to fuzz/crashes/)
#   make corpus     regenerate the committed seed corpus in fuzz/corpus/
#   make bench      benchmarks (bench/RESULTS.md)
#   make format     clang-format every tracked C++ file; make format-check only checks
#   make tsan-tests print the test binaries test-tsan runs (TSAN_TESTS)
# Every build directory is configured once and rebuilt incrementally, with JOBS (all cores).

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
FUZZ_DIR ?= build-fuzz
CXX_COMPILER ?= clang++
C_COMPILER ?= clang
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

# Sanitizer builds: asserts on (no NDEBUG), -O1 so the suite runs at a useful speed, line tables
# only (all a sanitizer stack needs; much faster to compile and link than full -g).
SAN_FLAGS ?= -O1 -gline-tables-only
SAN_CMAKE = -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="$(SAN_FLAGS)" -DCMAKE_C_FLAGS_DEBUG="$(SAN_FLAGS)" \
  -DCMAKE_CXX_COMPILER=$(CXX_COMPILER) -DCMAKE_C_COMPILER=$(C_COMPILER) $(CMAKE_FLAGS)

# The test binaries `make test-tsan` builds and runs under TSan (an anchored regex over test
# binary names; every test is labelled with its binary's name, see cmake/sluice.cmake): the
# executor and the test-support seams (testing_test), the checkpoint manager and the rest of the
# engine, storage, DCP (unit and dcp_integration_test), and two more integration binaries:
# kv_integration_test (concurrent clients, many connections, shutdown under load) and
# cluster_integration_test (replication and the cluster's nodes).
TSAN_TESTS ?= common_test|executor_test|testing_test|engine_test|bucket_test|storage_test|dcp_.*|passive_stream_test|etcd_test|client_test|sasl_test|server_test|kv_integration_test|cluster_integration_test

FUZZ_SECONDS ?= 20
FUZZ_SERVER_SECONDS ?= 30
FUZZ_LONG_SECONDS ?= 600

TIMINGS = $(BUILD_DIR)/test-timings.txt
TIMED = ./scripts/timed.sh $(TIMINGS)

# Steps run one after another even under `make -j`: each build already uses every core.
.NOTPARALLEL:
.PHONY: all deps build binaries run cluster test test-fast test-asan test-tsan test-fuzz fuzz corpus bench \
  clean format format-check tsan-tests check-includes

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_CXX_COMPILER=$(CXX_COMPILER) -DCMAKE_C_COMPILER=$(C_COMPILER) $(CMAKE_FLAGS)

$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) $(SAN_CMAKE) -DSLUICE_SANITIZE=address,undefined

$(TSAN_DIR)/build.ninja:
	cmake -S . -B $(TSAN_DIR) $(SAN_CMAKE) -DSLUICE_SANITIZE=thread

$(FUZZ_DIR)/build.ninja:
	cmake -S . -B $(FUZZ_DIR) $(SAN_CMAKE) -DSLUICE_SANITIZE=address,undefined \
	  -DSLUICE_FUZZ=ON -DSLUICE_BUILD_TESTS=OFF

build: deps $(BUILD_DIR)/build.ninja
	$(TIMED) "build (RelWithDebInfo)" cmake --build $(BUILD_DIR) -j $(JOBS)

# Only the server and the CLI: a newcomer's first `make run` does not compile the test suite.
binaries: deps $(BUILD_DIR)/build.ninja
	$(TIMED) "build sluiced and sluice" cmake --build $(BUILD_DIR) -j $(JOBS) --target sluiced sluice

run: binaries
	./$(BUILD_DIR)/sluiced --data-dir ./data --users etc/dev-users.json

# etcd and three nodes on loopback, data in ./cluster-data; prints how to connect; Ctrl-C stops.
cluster: binaries
	./scripts/local-cluster.sh $(BUILD_DIR)

test:
	@mkdir -p $(BUILD_DIR) && : > $(TIMINGS)
	@$(MAKE) --no-print-directory deps test-fast test-asan test-tsan test-fuzz; status=$$?; \
	  ./scripts/timed.sh --report $(TIMINGS); exit $$status

test-fast: check-includes format-check build
	$(TIMED) "tests (RelWithDebInfo, all)" ./scripts/run-tests.sh $(BUILD_DIR)

test-asan: deps $(ASAN_DIR)/build.ninja
	$(TIMED) "build-asan (ASan+UBSan)" cmake --build $(ASAN_DIR) -j $(JOBS)
	$(TIMED) "tests under ASan+UBSan (all)" ./scripts/run-tests.sh $(ASAN_DIR)

test-tsan: deps $(TSAN_DIR)/build.ninja
	$(TIMED) "build-tsan (TSan, TSAN_TESTS)" cmake --build $(TSAN_DIR) -j $(JOBS) --target sluiced \
	  $$(./scripts/test-targets.sh $(TSAN_DIR) '$(TSAN_TESTS)')
	$(TIMED) "tests under TSan (TSAN_TESTS)" ./scripts/run-tests.sh $(TSAN_DIR) \
	  -L '^($(TSAN_TESTS))$$'

# The live-server fuzz attacks the ASan+UBSan sluiced (built by test-asan; only relinked here).
test-fuzz: deps $(FUZZ_DIR)/build.ninja $(ASAN_DIR)/build.ninja
	$(TIMED) "build-fuzz (libFuzzer, ASan+UBSan)" cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzzers
	$(TIMED) "build-asan sluiced (for fuzz-server)" cmake --build $(ASAN_DIR) -j $(JOBS) --target sluiced
	$(TIMED) "fuzzers, $(FUZZ_SECONDS) s each" ./scripts/fuzz.sh --build $(FUZZ_DIR) \
	  --seconds $(FUZZ_SECONDS) --jobs $(JOBS)
	$(TIMED) "live-server fuzz, $(FUZZ_SERVER_SECONDS) s" ./scripts/fuzz-server.sh \
	  --sluiced $(ASAN_DIR)/sluiced --client $(FUZZ_DIR)/fuzz/server_fuzz \
	  --seconds $(FUZZ_SERVER_SECONDS)

# Longer fuzzing (not part of `make test`): new inputs stay in a temp dir (printed), crash inputs
# land in fuzz/crashes/ to become regression seeds (README "Fuzzing").
fuzz: deps $(FUZZ_DIR)/build.ninja $(ASAN_DIR)/build.ninja
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzzers
	cmake --build $(ASAN_DIR) -j $(JOBS) --target sluiced
	./scripts/fuzz.sh --build $(FUZZ_DIR) --seconds $(FUZZ_LONG_SECONDS) --jobs $(JOBS) --keep
	./scripts/fuzz-server.sh --sluiced $(ASAN_DIR)/sluiced --client $(FUZZ_DIR)/fuzz/server_fuzz \
	  --seconds $(FUZZ_LONG_SECONDS)

corpus: deps $(FUZZ_DIR)/build.ninja
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target make_corpus
	./$(FUZZ_DIR)/fuzz/make_corpus fuzz/corpus

# Benchmarks (not part of `make test`): append figures to bench/RESULTS.md.
bench: build
	./bench/run-all.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR) $(FUZZ_DIR)

# Tracked files only: never node_modules or build output.
CXX_SOURCES = git ls-files '*.h' '*.cc'

format:
	$(CXX_SOURCES) | xargs clang-format -i

format-check:
	@$(CXX_SOURCES) | xargs clang-format --dry-run -Werror \
	  || { echo "format-check: run 'make format' (clang-format differs, above)" >&2; exit 1; }

# Dependencies run one way: no include cycle between src/ folders or between the parts of one
# folder, and only tests use src/testing (a second or less).
check-includes:
	@python3 ./scripts/check-includes.py

tsan-tests:
	@echo '$(TSAN_TESTS)' | tr '|' '\n'
