# sluice — the commands a newcomer runs. See README.md.
#   make run    install missing packages, build, start sluiced on 127.0.0.1:11210 (data in ./data)
#   make test   install missing packages, build, run every test
#   make build  build only

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
CXX_COMPILER ?= clang++
C_COMPILER ?= clang
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build run test bench clean format

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_CXX_COMPILER=$(CXX_COMPILER) -DCMAKE_C_COMPILER=$(C_COMPILER) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/sluiced --data-dir ./data --users etc/dev-users.json

test: build
	./scripts/run-tests.sh $(BUILD_DIR)

# Benchmarks (not part of `make test`): append figures to bench/RESULTS.md.
bench: build
	./bench/run-all.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)

format:
	find src tests bench -name '*.h' -o -name '*.cc' | xargs clang-format -i
