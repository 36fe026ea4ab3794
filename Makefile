# Citadel: `make run` builds and runs the demo; `make test` builds and runs every test.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
SHARED ?= ../shared
# `make run MODEL=name=/path/model.gguf` or `make run CONFIG=citadel.yaml`; with neither,
# citadel serve makes and serves a tiny random-weights demo model (and says so loudly).
MODEL ?=
CONFIG ?=
PORT ?= 8080
DEMO_TOKENIZER := $(wildcard $(SHARED)/reference/tokenizer/hf/qwen3)

.PHONY: all bootstrap build run test unit-test check e2e-test asan-test fuzz bench bench-batch \
	bench-serve bench-gateway clean

all: build

.bootstrap-done: scripts/bootstrap.sh
	bash scripts/bootstrap.sh
	@touch $@

bootstrap: .bootstrap-done

$(BUILD)/build.ninja: .bootstrap-done CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Authentication is on: the first run makes an admin API key in $(DATA)/admin.key (0600).
DATA ?= $(BUILD)/citadel-data
run: build
	@mkdir -p $(DATA) && chmod 700 $(DATA)
	@test -s $(DATA)/admin.key || { umask 077 && $(BUILD)/citadel keys create --db $(DATA)/keys.db \
		--name admin --role admin > $(DATA)/admin.key; }
	@echo "citadel: API key (admin) in $(DATA)/admin.key; send it as 'Authorization: Bearer <key>'"
	$(BUILD)/citadel serve --port $(PORT) $(if $(MODEL),-m $(MODEL)) \
		$(if $(CONFIG),--config $(CONFIG)) --demo-dir $(BUILD) --data-dir $(DATA) \
		$(if $(DEMO_TOKENIZER),--demo-tokenizer $(DEMO_TOKENIZER))

unit-test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check: build
	CITADEL=$(BUILD)/citadel SHARED_DIR=$(SHARED) bash scripts/reference_checks.sh

# The black-box suite: real openai / @langchain/openai / ollama clients against citadel serve.
e2e-test: build
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error && \
		CITADEL=$(abspath $(BUILD))/citadel SHARED_DIR=$(abspath $(SHARED)) node --test

test: unit-test check e2e-test

# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer. -O1 with line tables
# only (-g1): stack traces keep file:line, and the build takes much less of CI's time.
asan-test: .bootstrap-done
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCITADEL_SANITIZE=ON \
		-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG"
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

bench-serve: build
	node bench/serve_load.mjs --record

# The gateway's added latency and throughput against nginx checking keys (bench/RESULTS.md).
bench-gateway: build
	bash bench/gateway_bench.sh --record

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
