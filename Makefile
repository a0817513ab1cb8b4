# The two set-up commands (README): `make demo` and `make test`. Everything else is a helper.
JOBS ?= $(shell nproc)
BUILD ?= build
TEST_BUILD ?= build-test
BENCH_BUILD ?= build-bench
FUZZ_SECONDS ?= 10

.PHONY: all deps build demo test test-build bench fuzz clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@mkdir -p var
	./$(BUILD)/blend serve --provision examples/demo.json

test-build: deps
	@CC=clang cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBLEND_SANITIZE=ON \
		-DBLEND_WERROR=ON -DBLEND_FUZZ=ON -DBLEND_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)

test: test-build
	@cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS)

fuzz: test-build
	@cd $(TEST_BUILD) && ctest -L fuzz --output-on-failure -j $(JOBS)

bench: deps
	@cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BENCH_BUILD) -j $(JOBS)
	@bash bench/run.sh $(BENCH_BUILD)

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(BENCH_BUILD)
