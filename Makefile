# rpp: the commands a newcomer needs are `make run` and `make test`; both install what they need.
SHELL := /bin/bash
SWIFT ?= swift
# Numeric code is 10-50x slower unoptimised, so tests and benchmarks build in release with testing on.
RELEASE := -c release -Xswiftc -enable-testing
BIN := .build/release/rpp
DEBIAN_PACKAGES := libnanomsg-dev libzstd-dev libopenblas-dev protobuf-compiler pkg-config

.PHONY: deps build test test-cluster test-cluster-run run protos bench bench-run bench-peers model-fixtures template-fixtures fuzz clean

deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "make deps: Debian packages present"; fi

build: deps
	$(SWIFT) build $(RELEASE) --product rpp

test: deps
	$(SWIFT) build $(RELEASE) --build-tests
	$(SWIFT) test $(RELEASE) --skip-build --disable-swift-testing
	@if Tests/Scripts/test-cluster.sh --probe; then $(MAKE) --no-print-directory test-cluster-run; \
	else echo "make test: the network-namespace cluster test is skipped here (needs root, iproute2, netns, bridge and veth)"; fi

# A cluster over four network namespaces (root and iproute2 needed; about 50 s): scaling, a cut and restored
# link, nothing lost. `make test` runs it too when `test-cluster.sh --probe` finds that this machine can build
# the namespaces, and says it skipped it otherwise.
test-cluster: build test-cluster-run

test-cluster-run:
	Tests/Scripts/test-cluster.sh

# The main job: SFT checkpoint if missing, then `rpp cluster up --hosts Deploy/hosts.local` (reference,
# reward, two rollout workers, learner as separate processes on loopback), the learner's progress in the
# foreground, `rpp cluster down` at the end or on Ctrl-C (Deploy/run-local.sh). Overrides: make run ARGS="optim.lr=3e-4".
run: build
	Deploy/run-local.sh Deploy/rpp.yaml $(ARGS)

# Regenerate Sources/Wire/Proto/*.pb.swift from Protos/*.proto with protoc-gen-swift built
# from the swift-protobuf dependency (the generated code is committed).
protos: deps
	$(SWIFT) build -c release --product protoc-gen-swift
	protoc --plugin=protoc-gen-swift=.build/release/protoc-gen-swift \
	  --swift_out=Sources/Wire/Proto --swift_opt=Visibility=Public --swift_opt=FileNaming=DropPath \
	  -I Protos Protos/rpp/v1/*.proto
	@echo "regenerated: $$(ls Sources/Wire/Proto/*.pb.swift | tr '\n' ' ')"

bench: build
	OPENBLAS_NUM_THREADS=1 $(BIN) bench wire
	OPENBLAS_NUM_THREADS=1 $(BIN) bench rl
	$(BIN) bench model

# REINFORCE++ vs PPO on a local cluster of real processes (needs the SFT checkpoint; makes it when missing).
bench-run: build
	@[ -f runs/sft/model.safetensors ] || $(BIN) sft --out runs/sft
	$(BIN) bench run

# PyTorch + transformers on the same shapes, same machine, same session (not run by CI).
# Note: PyPI's torch wheel is the CUDA build (several GB); it runs on CPU.
PYTHON_VENV := .venv/bin/python
$(PYTHON_VENV):
	python3 -m venv .venv && .venv/bin/pip install -q torch transformers safetensors numpy

bench-peers: build $(PYTHON_VENV)
	$(PYTHON_VENV) Tests/Scripts/bench_peers.py --rpp $(BIN)

# Regenerates the transformers fixtures under Tests/Fixtures/model (not run by CI).
model-fixtures: $(PYTHON_VENV)
	$(PYTHON_VENV) Tests/Scripts/make_hf_fixtures.py

# Regenerates the chat template fixtures under Tests/Fixtures/templates with transformers' apply_chat_template
# (no torch needed; not run by CI).
TEMPLATE_VENV := .venv-templates/bin/python
$(TEMPLATE_VENV):
	python3 -m venv .venv-templates && .venv-templates/bin/pip install -q transformers==4.57.1 jinja2==3.1.6 \
	  tokenizers==0.22.2

template-fixtures: $(TEMPLATE_VENV)
	$(TEMPLATE_VENV) Tests/Scripts/make_template_fixtures.py

# Regenerates Tests/Fixtures/recording: a real in-process run (learner, two rollout workers, reward and
# reference servers) recorded with --record's Recorder, then replayed (README: Record and replay).
.PHONY: recording-fixture
recording-fixture: deps
	$(SWIFT) build $(RELEASE) --build-tests
	RPP_WRITE_RECORDING_FIXTURE=1 $(SWIFT) test $(RELEASE) --skip-build --disable-swift-testing \
	  --filter RecordReplayTests/testRecordInProcessRunThenReplay

# Coverage-guided fuzzing of the frame decoder (libFuzzer). FUZZ_SECONDS bounds the run.
# --sanitize=fuzzer lets SwiftPM link libFuzzer's main; the combined -sanitize=fuzzer,address is what
# instruments the Swift code (two separate -sanitize flags keep only the last). Findings land in
# Tests/Fixtures/fuzz, which WireTests replays.
FUZZ_SECONDS ?= 60
fuzz: deps
	$(SWIFT) build -c release --scratch-path .build-fuzz --product rpp-fuzz-frame \
	  --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
	mkdir -p .build-fuzz/corpus
	cp Tests/Fixtures/frames/*.frame Tests/Fixtures/fuzz/* .build-fuzz/corpus/ 2>/dev/null || true
	.build-fuzz/release/rpp-fuzz-frame -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -artifact_prefix=Tests/Fixtures/fuzz/crash- .build-fuzz/corpus

clean:
	rm -rf .build .build-fuzz
