# The two entry points: `make demo` and `make test`. Both install what is missing first.
BUILD_TEST    := build/asan
BUILD_RELEASE := build/release
BUILD_TSAN    ?= build/tsan
BUILD_FUZZ    ?= build/fuzz
FUZZ_SECONDS  ?= 5
FUZZ_RUNS     ?= 1000000
JOBS          ?= 2
DEMO_SPEC     ?= examples/breast-cancer/pipeline.yaml
DEMO_PORT     ?= 8080

.PHONY: all setup release release-check build-test demo test tour reliability tsan bench-shm fuzz-build fuzz fuzz-long clean format

all: release

setup:
	@bash deploy/setup.sh

# `tandem` and the built-in stages, optimised (the `programs` target: no tests).
release: setup
	cmake -S . -B $(BUILD_RELEASE) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_RELEASE) -j$(JOBS) --target programs

# The project's own checks build with warnings as errors (TANDEM_WERROR); a user's or packager's
# build does not. `release-check` is the default build a packager runs (Release, tests on), whole,
# with -Werror, so a warning GCC gives only at -O3 fails `make test` and not a user's build.
build-test: setup
	cmake -S . -B $(BUILD_TEST) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTANDEM_SANITIZE=ON -DTANDEM_WERROR=ON
	cmake --build $(BUILD_TEST) -j$(JOBS)

release-check: setup
	cmake -S . -B $(BUILD_RELEASE) -G Ninja -DCMAKE_BUILD_TYPE=Release -DTANDEM_WERROR=ON
	cmake --build $(BUILD_RELEASE) -j$(JOBS)

demo: release
	@echo
	@echo "Serving $(DEMO_SPEC) on port $(DEMO_PORT). Once it logs 'serving', try in another terminal:"
	@echo
	@echo "  head -2 examples/breast-cancer/heldout.csv | curl -s -H 'Content-Type: text/csv' --data-binary @- http://localhost:$(DEMO_PORT)/invocations"
	@echo
	@echo "Stop with Ctrl-C."
	@echo
	$(BUILD_RELEASE)/bin/tandem serve $(DEMO_SPEC) --port $(DEMO_PORT)

test: build-test release-check
	ctest --test-dir $(BUILD_TEST) --output-on-failure -j$(JOBS)
	$(MAKE) --no-print-directory fuzz
	$(MAKE) --no-print-directory tour

# The README's set-up and tour, run as written from a fresh environment (nothing of tandem's on
# PATH), checking the answers it shows: tests/readme/run_tour.py. Needs port 8080.
tour:
	tests/readme/run_tour.py

# The long reliability suite (tests/reliability, docs/reliability.md) on the optimised build:
# 10 minutes of soak per pipeline, 2 minutes of chaos per pipeline, a transform job SIGKILLed
# 10 times (about 40 minutes; results in build/reliability/results.md), then every fuzz target
# for FUZZ_RUNS executions. `make test` runs the short versions (ctest label `reliability`,
# and FUZZ_SECONDS per fuzz target).
reliability: release
	tests/reliability/run.py --bin $(BUILD_RELEASE)/bin --markdown-out build/reliability/results.md
	$(MAKE) --no-print-directory fuzz-long

# The libFuzzer targets (tests/fuzz, clang-14, ASan+UBSan) in their own build: FUZZ_SECONDS
# each on the seed corpus in `make test`, FUZZ_RUNS executions each in `make fuzz-long`
# (docs/reliability.md).
fuzz-build: setup
	cmake -S . -B $(BUILD_FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTANDEM_FUZZ=ON -DTANDEM_WERROR=ON \
	  -DCMAKE_CXX_COMPILER=clang++-14
	cmake --build $(BUILD_FUZZ) -j$(JOBS)

fuzz: fuzz-build
	tests/fuzz/run.sh $(BUILD_FUZZ) -max_total_time=$(FUZZ_SECONDS)

fuzz-long: fuzz-build
	tests/fuzz/run.sh $(BUILD_FUZZ) -runs=$(FUZZ_RUNS)

# The shared-memory ring, transport and SDK server under ThreadSanitizer (docs/shm.md).
tsan: setup
	cmake -S . -B $(BUILD_TSAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTANDEM_TSAN=ON -DTANDEM_WERROR=ON
	cmake --build $(BUILD_TSAN) -j$(JOBS) --target unit_proto unit_chain unit_sdk unit_capture
	$(BUILD_TSAN)/bin/unit_proto '[shm]'
	$(BUILD_TSAN)/bin/unit_chain '[shm]'
	$(BUILD_TSAN)/bin/unit_sdk '[shm]'
	$(BUILD_TSAN)/bin/unit_capture

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf build
