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

# The demo's music on hold: a plucked arpeggio made once with sox (a deps.sh package).
DEMO_MOH = var/moh.wav
MOH_NOTES = C4 E4 G4 C5 A4 F4 D4 G4

demo: build
	@mkdir -p var
	@test -f $(DEMO_MOH) || sox -n -r 8000 -c 1 $(DEMO_MOH) \
		$(foreach n,$(MOH_NOTES),synth 0.5 pluck $(n) :) synth 1 pluck C4 vol 0.6
	BLEND_SIP_MOH_PATH=$(DEMO_MOH) ./$(BUILD)/blend serve --provision examples/demo.json

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
