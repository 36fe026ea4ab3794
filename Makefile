# Citadel: `make run` builds and runs the demo; `make test` builds and runs every test.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
SHARED ?= ../shared
DEMO_MODEL ?= $(SHARED)/reference/models/stories260K.gguf

.PHONY: all bootstrap build run test unit-test check asan-test fuzz bench bench-batch clean

all: build

.bootstrap-done: scripts/bootstrap.sh
	bash scripts/bootstrap.sh
	@touch $@

bootstrap: .bootstrap-done

$(BUILD)/build.ninja: .bootstrap-done CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Until the server exists: a demo generation with a small trained model.
run: build
	$(BUILD)/citadel info $(DEMO_MODEL)
	$(BUILD)/citadel run -m $(DEMO_MODEL) -p "Once upon a time" -n 64 --temp 0

unit-test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check: build
	CITADEL=$(BUILD)/citadel SHARED_DIR=$(SHARED) bash scripts/reference_checks.sh

test: unit-test check

# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan-test: .bootstrap-done
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCITADEL_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS)

fuzz: .bootstrap-done
	CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCITADEL_FUZZ=ON -DCITADEL_WERROR=OFF
	cmake --build build-fuzz -j $(JOBS)

bench: build
	bash bench/run_bench.sh

bench-batch: build
	bash bench/batch_bench.sh --llama-bin "$(LLAMA_CPP)"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
