# Kata's build. `make run` opens the app, `make test` runs every test; both
# first install what a fresh Debian 12 machine lacks (as root, or with sudo).

GO       ?= go
BIN      := bin/kata
# Packages that must build and test without cgo or a display.
HEADLESS := ./app/... ./ui/... ./model/... ./store/... ./assets/...
# Fyne's cgo build (GL, X11), sqweek/dialog (GTK 3), `fyne package` (xz) and
# the display tests (Xvfb, screenshots, input).
APT_PKGS := gcc libc6-dev pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev \
	libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev libgtk-3-dev xz-utils \
	xvfb imagemagick xdotool
FYNE_TOOL := fyne.io/tools/cmd/fyne@v1.7.4

.PHONY: run build test race fault fuzz bench bench-generate bench-actions-variants screenshots gpu-binaries gpu-dry-run package deps check-go clean

run: build
	./$(BIN)

build: deps
	$(GO) build -o $(BIN) .

test: deps
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 45m $(HEADLESS)
	KATA_DISPLAY_TESTS=1 $(GO) test -count=1 -timeout 20m .

# The window's tests under the race detector (cgo). Not part of `make test`:
# the ui package's model-backed tests run many times slower under -race.
race: deps
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 60m ./ui/

# The fault suite of docs/RELIABILITY.md alone (it also runs in `make test`).
fault: check-go
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 20m \
		-run 'Fuzz|Crash|Kill|DiskFull|Repair|OpenMissing|OpenDamaged|OpenReadOnly|Hostile|Bounds|Memory|NonFinite|Truncated|Cancellable|Name|Quote|Decode' \
		./store/... ./model/sd/ ./model/adi/ ./model/safetensors/ ./model/prompt/ ./app/

# Every fuzz target for FUZZTIME each (the seed corpora alone run in `make
# test`), all of them even when one fails. A failing input is saved under the
# package's testdata/fuzz/; commit it with the fix as a regression case.
FUZZTIME ?= 30s
fuzz: check-go
	@failed=; for f in $$(git ls-files '*_test.go' | xargs grep -l '^func Fuzz'); do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== ./$$(dirname $$f) $$t"; \
			CGO_ENABLED=0 $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f) || failed="$$failed $$t"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi

# docs/screenshots/*.png of every page, from the real binary under Xvfb with
# the built-in model ($KATA_BUILTIN_MODEL, or the one this build ships): the
# salute sample trained (KATA_SCREENSHOT_STEPS steps, default the window's)
# and a 3-subject matrix generated first (TestScreenshots). It trains and
# generates on this machine, so it takes a while; SCREENSHOT_DIR=... writes
# elsewhere.
SCREENSHOT_DIR ?= docs/screenshots
screenshots: deps
	KATA_SCREENSHOTS=1 KATA_DISPLAY_TESTS=1 KATA_SCREENSHOT_DIR=$(abspath $(SCREENSHOT_DIR)) \
		$(GO) test -count=1 -timeout 180m -run '^TestScreenshots$$' -v .

# GEMM, convolution and UNet timings, each against GoMLX's stock executor in
# the same run (docs/PERFORMANCE.md): about an hour on 2 cores, most of it the
# stock SD 1.5-size UNet step (about 11 GB; it runs on machines with 20 GB or
# more). KATA_BENCH_SD15_STOCK=0 skips that stock timing (about 5 minutes).
# It starts with bench-generate's table (below).
bench: bench-generate
	CGO_ENABLED=0 $(GO) test -run '^$$' -bench . -benchtime 1s -timeout 90m ./model/backend/...
	CGO_ENABLED=0 $(GO) test -run '^$$' -bench . -benchtime 5x -timeout 20m ./model/lora/
	CGO_ENABLED=0 $(GO) test -run '^$$' -bench Builtin -benchtime 1x -timeout 20m ./app/

# `kata generate`'s path on SD 1.5 shapes (random-weight f16 checkpoint,
# written once to $(KATA_BENCH_SD15_DIR)): load time, time to the first step,
# s/step, VAE decode, the whole generation, peak RSS and page faults at 256
# and 512 px, 20 steps with CFG, each for the previous code's float32 weights
# beside the half-precision ones (docs/PERFORMANCE.md, "Generation").
KATA_BENCH_SD15_DIR ?= $(HOME)/.cache/kata/bench-sd15-random-f16
bench-generate: check-go
	KATA_BENCH_GENERATE=1 KATA_BENCH_SD15_DIR=$(KATA_BENCH_SD15_DIR) CGO_ENABLED=0 $(GO) test -run '^$$' \
		-bench Generate -benchtime 1x -timeout 180m ./model/backend/unetbench/


# The variant table of docs/BENCHMARK.md: one `kata bench actions` run per
# line of BENCH_VARIANTS (a name, then its flags) into $(BENCH_OUT)/NAME, one
# after another. A variant whose report.txt exists is skipped; a killed one
# resumes from its cache/ on the next call. BENCH_FLAGS go to every run (e.g.
# --model PATH until the built-in model ships); KATA names another kata
# binary (then nothing is built).
BENCH_OUT   ?= bench-variants
BENCH_FLAGS ?=
KATA        ?= $(BIN)
define BENCH_VARIANTS
default
lazy-adam     --methods adi --lazy-adam
beta-0.25     --methods adi --beta 0.25
beta-0.75     --methods adi --beta 0.75
scope-all     --methods adi --mask-scope all
negatives-4   --methods adi --negatives 4
strength-0.4  --methods adi --strength 0.4
strength-0.8  --methods adi --strength 0.8
lr-1e-2       --methods adi --lr 1e-2
steps-1000    --methods p+,adi --steps 1000
endef
export BENCH_VARIANTS

bench-actions-variants: $(if $(filter $(BIN),$(KATA)),build)
	@printf '%s\n' "$$BENCH_VARIANTS" | while read -r name flags; do \
		[ -n "$$name" ] || continue; \
		if [ -f "$(BENCH_OUT)/$$name/report.txt" ]; then echo "$$name: finished, skipped"; continue; fi; \
		echo "$$name: $(KATA) bench actions --variant $$name --out $(BENCH_OUT)/$$name $(BENCH_FLAGS) $$flags"; \
		$(KATA) bench actions --variant "$$name" --out "$(BENCH_OUT)/$$name" $(BENCH_FLAGS) $$flags </dev/null || exit 1; \
	done

# Binaries (cgo, XLA/PJRT) for the GPU checks in model/backend/gpucheck/run.sh,
# compressed to travel light: the model/sd, model/adi and gpucheck test
# binaries and the windowless kata command line (gpu/kata: doctor, generate,
# bench actions).
# The GPU machine needs no Go toolchain and no network.
gpu-binaries: check-go
	mkdir -p gpu
	CGO_ENABLED=1 $(GO) test -c -ldflags='-s -w' -o gpu/sd.test ./model/sd
	CGO_ENABLED=1 $(GO) test -c -ldflags='-s -w' -o gpu/adi.test ./model/adi
	CGO_ENABLED=1 $(GO) test -c -ldflags='-s -w' -o gpu/gpucheck.test ./model/backend/gpucheck
	CGO_ENABLED=1 $(GO) build -ldflags='-s -w' -o gpu/kata ./model/backend/gpucheck/kata
	xz -f -T2 gpu/sd.test gpu/adi.test gpu/gpucheck.test gpu/kata

# The GPU script's own check on a machine without a GPU: builds nothing, runs
# run.sh --dry-run against the binaries of gpu-binaries (or prints what it
# would run when they are missing).
gpu-dry-run:
	bash model/backend/gpucheck/run.sh --dry-run

package: deps
	$(GO) run $(FYNE_TOOL) package -os linux -release -name Kata
	@ls -l Kata.tar.xz

deps: check-go
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing:" $$missing; \
		sudo=; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y --no-install-recommends $$missing; \
	fi

# Go itself cannot come from apt (Debian 12 ships 1.19): ask for it clearly.
check-go:
	@command -v $(GO) >/dev/null || { echo "Kata needs Go 1.26 or newer: https://go.dev/dl/"; exit 1; }
	@$(GO) version | awk '{split($$3,v,"[go.]"); if (v[3]<1 || (v[3]==1 && v[4]<26)) {print "Kata needs Go 1.26 or newer, found " $$3; exit 1}}'

clean:
	rm -rf bin gpu Kata.tar.xz
