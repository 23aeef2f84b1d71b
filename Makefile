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

.PHONY: run build test fault bench bench-generate gpu-binaries package deps check-go clean

run: build
	./$(BIN)

build: deps
	$(GO) build -o $(BIN) .

test: deps
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 45m $(HEADLESS)
	KATA_DISPLAY_TESTS=1 $(GO) test -count=1 -timeout 20m .

# The fault suite of docs/RELIABILITY.md alone (it also runs in `make test`).
fault: check-go
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 20m \
		-run 'Fuzz|Crash|Kill|DiskFull|Repair|OpenMissing|OpenDamaged|OpenReadOnly|Hostile|Bounds|Memory|NonFinite|Truncated|Cancellable|Name|Quote|Decode' \
		./store/... ./model/sd/ ./model/adi/ ./model/safetensors/ ./model/prompt/ ./app/

# GEMM, convolution and UNet timings, each against GoMLX's stock executor in
# the same run (docs/PERFORMANCE.md): about an hour on 2 cores, most of it the
# stock SD 1.5-size UNet step (about 11 GB; it runs on machines with 20 GB or
# more). KATA_BENCH_SD15_STOCK=0 skips that stock timing (about 5 minutes).
# It starts with bench-generate's table (below).
bench: bench-generate
	CGO_ENABLED=0 $(GO) test -run '^$$' -bench . -benchtime 1s -timeout 90m ./model/backend/...
	CGO_ENABLED=0 $(GO) test -run '^$$' -bench . -benchtime 5x -timeout 20m ./model/lora/

# `kata generate`'s path on SD 1.5 shapes (random-weight f16 checkpoint,
# written once to $(KATA_BENCH_SD15_DIR)): load time, time to the first step,
# s/step, VAE decode, the whole generation, peak RSS and page faults at 256
# and 512 px, 20 steps with CFG, each for the previous code's float32 weights
# beside the half-precision ones (docs/PERFORMANCE.md, "Generation").
KATA_BENCH_SD15_DIR ?= $(HOME)/.cache/kata/bench-sd15-random-f16
bench-generate: check-go
	KATA_BENCH_GENERATE=1 KATA_BENCH_SD15_DIR=$(KATA_BENCH_SD15_DIR) CGO_ENABLED=0 $(GO) test -run '^$$' \
		-bench Generate -benchtime 1x -timeout 180m ./model/backend/unetbench/

# Test binaries (cgo, XLA/PJRT) for the GPU checks in
# model/backend/gpucheck/run.sh, compressed to travel light.
gpu-binaries: check-go
	mkdir -p gpu
	CGO_ENABLED=1 $(GO) test -c -ldflags='-s -w' -o gpu/sd.test ./model/sd
	CGO_ENABLED=1 $(GO) test -c -ldflags='-s -w' -o gpu/adi.test ./model/adi
	xz -f -T2 gpu/sd.test gpu/adi.test

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
