#!/usr/bin/env bash
# GPU checks for Kata, run from the repository root on a machine with an
# NVIDIA GPU and Python's jax CUDA PJRT plugin but no Go toolchain and no
# network (see docs/PERFORMANCE.md, "GPU"). Build the binaries first, on any
# amd64 machine with Go and gcc:  make gpu-binaries  (writes gpu/*.xz: the
# model/sd, model/adi and gpucheck test binaries and gpu/kata, the
# windowless command line).
#
# Usage: bash model/backend/gpucheck/run.sh [--dry-run] [SECTION...]
# Sections (default: all but parity-f32 and levers):
#   doctor      kata doctor: the backend, the GPU, the plugin's path and version
#   parity      the fixture parity tests of model/sd and model/adi through
#               XLA/PJRT (KATA_TEST_BACKEND=xla:cuda), XLA's default precision
#   parity-f32  the model/sd parity tests with TF32 off: NVIDIA_TF32_OVERRIDE=0
#               for cuBLAS/cuDNN and XLA's Triton GEMMs off
#   unet        BenchmarkSD15Generate: SD 1.5 size (random weights), 512x512,
#               CFG 7.5, 20 steps: one UNet step with CFG, the whole image
#   train       BenchmarkSD15Train, 100 ADI steps of SD 1.5 size at 64x64
#               latents (split mode samples, Kata's default)
#   train1000   the same with 1000 steps
#   levers      100 steps under each memory lever: split batch, a bounded XLA
#               pool (KATA_XLA_MEM_FRACTION=0.06, about 8 GB of an H200), the
#               platform allocator (no pool)
#   gallery     the built-in model's 4x4 gallery: 16 images, kata generate
#   bench       kata bench actions --quick on the built-in model
#   world       the built-in model's training on the GPU (not in the default
#               list: it takes KATA_WORLD_SECONDS, default 420): the unet
#               stage continued from KATA_WORLD_INIT (an exported model
#               folder carried along, e.g. gpu/world-init; default
#               KATA_MODEL) with KATA_WORLD_ARGS (default
#               "--batch 64 --steps 6000 --restarts none --lr 5e-4 --weighting p2"), stopped
#               by SIGINT at the time limit (a checkpoint), exported to
#               $OUT/world-model, then judged: kata world eval and probe
# Every training and image section samples nvidia-smi's memory.used every
# 100 ms and reports the peak. KATA_XLA_DUMP=1 also dumps XLA's buffer
# assignments of the training graphs and reports XLA's own peak of each
# (much output). The table is printed at the end and kept in $OUT/table.txt.
#
# Variables: OUT (logs; default /tmp/kata-gpu), KATA_MODEL (the built-in
# model's diffusers folder; default: the kata binary's built-in model),
# KATA_SRC (the source path the test binaries were built from; default
# /work/main), KATA_BENCH_TIMEOUT (seconds per benchmark; default 300,
# train1000 900).
#
# --dry-run (also on a machine without a GPU): unpacks the binaries, runs
# kata doctor and the gallery's and bench's --help on the CPU, and prints
# every other command instead of running it.
set -u
dry=0
if [ "${1:-}" = "--dry-run" ]; then
	dry=1
	shift
fi
out=${OUT:-/tmp/kata-gpu}
mkdir -p "$out"
root=$PWD
table=$out/table.txt
: >"$table"
timeout_s=${KATA_BENCH_TIMEOUT:-300}

# run executes its arguments, or prints them on a dry run.
run() {
	if [ $dry = 1 ]; then
		echo "DRY: $*"
		return 0
	fi
	"$@"
}

# row appends one line to the table: what, result, peak memory.
row() { printf '%-40s | %-44s | %s\n' "$1" "$2" "$3" | tee -a "$table"; }

# smi_start/smi_stop sample nvidia-smi's memory.used (MiB) every 100 ms
# into $out/$1.mib; smi_stop prints the peak.
smi_pid=
smi_start() {
	smi_file=$out/$1.mib
	: >"$smi_file"
	if [ $dry = 0 ] && command -v nvidia-smi >/dev/null; then
		nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$smi_file" &
		smi_pid=$!
	fi
}
smi_stop() {
	if [ -n "$smi_pid" ]; then
		kill "$smi_pid" 2>/dev/null
		wait "$smi_pid" 2>/dev/null
		smi_pid=
	fi
	local peak
	peak=$(sort -n "$smi_file" | tail -1)
	echo "${peak:-n/a} MiB"
}

# metric prints the value of a benchmark metric (unit $2) from log $1.
metric() { grep -oE "[0-9.]+ $2" "$1" | tail -1 | cut -d' ' -f1; }

for f in gpu/*.xz; do
	[ -e "$f" ] || {
		echo "no gpu/*.xz: run make gpu-binaries first"
		exit 1
	}
	python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$f" "${f%.xz}" &&
		chmod +x "${f%.xz}" || exit 1
done
# The test binaries find their testdata by the source path they were built
# from (KATA_SRC, default /work/main).
src=${KATA_SRC:-/work/main}
if [ ! -e "$src" ]; then mkdir -p "$(dirname "$src")" && ln -s "$root" "$src"; fi

date -u
if [ $dry = 1 ]; then
	echo "dry run: CPU only"
	export KATA_BACKEND=go
	be=go
else
	nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
	site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
	plugin=$(ls "$site"/jax_plugins/xla_cuda*/xla_cuda_plugin.so 2>/dev/null | head -1)
	if [ -z "$plugin" ]; then
		echo "no jax CUDA PJRT plugin under $site/jax_plugins"
		exit 1
	fi
	python3 -m pip show jax jax-cuda13-pjrt jax-cuda12-pjrt 2>/dev/null | grep -E '^(Name|Version)'
	mkdir -p /tmp/pjrt && ln -sf "$plugin" /tmp/pjrt/pjrt_c_api_cuda_plugin.so
	export PJRT_PLUGIN_LIBRARY_PATH=/tmp/pjrt
	export LD_LIBRARY_PATH=$(find "$site/nvidia" -maxdepth 3 -type d -name lib | tr '\n' ':')${LD_LIBRARY_PATH:-}
	cuda=${CUDA_HOME:-/usr/local/cuda}
	export PATH=$cuda/bin:$PATH XLA_FLAGS="--xla_gpu_cuda_data_dir=$cuda" GOPJRT_CUDA_CHECKS=0
	be=xla:cuda
fi
model_flag=()
if [ -n "${KATA_MODEL:-}" ]; then model_flag=(--model "$KATA_MODEL"); fi

# train_run NAME STEPS [ENV...]: BenchmarkSD15Train with the extra environment.
train_run() {
	local name=$1 steps=$2
	shift 2
	local log=$out/$name.log dump=
	if [ "${KATA_XLA_DUMP:-0}" = 1 ]; then
		dump=$out/xla-dump-$name
		set -- "$@" XLA_FLAGS="${XLA_FLAGS:-} --xla_dump_to=$dump"
	fi
	smi_start "$name"
	(cd model/adi && run env KATA_BACKEND=$be KATA_BENCH_SD15=1 KATA_BENCH_SD15_STEPS=$steps "$@" timeout "$timeout_s" ../../gpu/adi.test \
		-test.run '^$' -test.bench SD15Train -test.benchtime 1x -test.v -test.timeout 0) >"$log" 2>&1
	local peak
	peak=$(smi_stop)
	tail -5 "$log"
	local xlapeak=
	if [ -n "$dump" ] && [ -d "$dump" ]; then
		xlapeak=$(grep -h "Total bytes used" "$dump"/*buffer-assignment* 2>/dev/null | grep -oE '[0-9]+' | sort -n | tail -1)
		[ -n "$xlapeak" ] && xlapeak="; XLA buffers $((xlapeak >> 20)) MiB"
	fi
	row "$name: $steps ADI steps ($*)" "$(metric "$log" steps/s) steps/s, first step $(metric "$log" setup+first-step-s) s" "$peak$xlapeak"
}

sections=${*:-doctor parity unet train train1000 gallery bench}
for section in $sections; do
	case $section in
	doctor)
		echo "== kata doctor"
		gpu/kata doctor --backend "$be" 2>&1 | tee "$out/doctor.txt"
		row "doctor" "$(grep -E '^backend:' "$out/doctor.txt" | cut -c16- | cut -c1-44)" "-"
		;;
	parity)
		echo "== parity through XLA (default precision)"
		(cd model/sd && run env KATA_TEST_BACKEND=$be timeout 180 ../../gpu/sd.test -test.v -test.timeout 170s 2>&1) | tee "$out/sd-parity.log" | grep -E '^(=== RUN|--- |PASS|FAIL|ok)|relative error|panic|rror' | head -150
		(cd model/adi && run env KATA_TEST_BACKEND=$be timeout 90 ../../gpu/adi.test -test.v -test.run "Loss|LayerEncodings" -test.timeout 80s 2>&1) | tee "$out/adi-parity.log" | grep -E '^(--- |PASS|FAIL|ok)|error|panic' | head -40
		row "parity: model/sd" "$(grep -c '^    --- PASS\|^--- PASS' "$out/sd-parity.log") passed, $(grep -c -- '--- FAIL' "$out/sd-parity.log") failed" "-"
		row "parity: model/adi" "$(grep -c -- '--- PASS' "$out/adi-parity.log") passed, $(grep -c -- '--- FAIL' "$out/adi-parity.log") failed" "-"
		;;
	parity-f32)
		echo "== parity through XLA, TF32 off"
		(cd model/sd && run env NVIDIA_TF32_OVERRIDE=0 XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_enable_triton_gemm=false" KATA_TEST_BACKEND=$be \
			timeout 120 ../../gpu/sd.test -test.v -test.run "Parity|TextualInversionGradient" -test.timeout 110s 2>&1) | tee "$out/sd-parity-f32.log" | grep -E '^(--- |PASS|FAIL|ok)|relative error|panic' | head -60
		row "parity, TF32 off: model/sd" "$(grep -c -- '--- PASS' "$out/sd-parity-f32.log") passed, $(grep -c -- '--- FAIL' "$out/sd-parity-f32.log") failed" "-"
		;;
	unet)
		echo "== SD 1.5 size, 512x512, CFG 7.5, 20 steps"
		smi_start unet
		(cd model/backend/gpucheck && run env KATA_BACKEND=$be KATA_BENCH_SD15=1 timeout "$timeout_s" ../../../gpu/gpucheck.test \
			-test.run '^$' -test.bench SD15Generate -test.benchtime 1x -test.v -test.timeout 0) >"$out/unet.log" 2>&1
		peak=$(smi_stop)
		tail -5 "$out/unet.log"
		row "unet: SD 1.5 UNet step, 64x64, CFG" "$(metric "$out/unet.log" unet-step-ms) ms" "$peak"
		row "unet: 512x512 image, 20 steps" "$(metric "$out/unet.log" image-s) s (first $(metric "$out/unet.log" first-image-s) s)" "$peak"
		;;
	train)
		echo "== 100 ADI steps, SD 1.5 size"
		train_run train 100 KATA_BENCH_SD15_SPLIT=samples
		;;
	train1000)
		echo "== 1000 ADI steps, SD 1.5 size"
		timeout_s=${KATA_BENCH_TIMEOUT:-900} train_run train1000 1000 KATA_BENCH_SD15_SPLIT=samples
		;;
	levers)
		echo "== memory levers, 100 ADI steps each"
		train_run lever-batch 100 KATA_BENCH_SD15_SPLIT=batch
		train_run lever-fraction 100 KATA_BENCH_SD15_SPLIT=samples KATA_XLA_MEM_FRACTION=0.06
		train_run lever-platform 100 KATA_BENCH_SD15_SPLIT=samples KATA_XLA_ALLOCATOR=platform
		;;
	gallery)
		echo "== built-in model, 4x4 gallery (16 images)"
		if [ $dry = 1 ]; then gpu/kata generate --help >/dev/null 2>&1 && echo "kata generate: flags parse"; fi
		smi_start gallery
		t0=$(date +%s.%N)
		run env KATA_BACKEND=$be gpu/kata generate "${model_flag[@]}" --prompt "a robot doing a handstand in a park" \
			--batch 16 --seed 1 --out "$out/gallery/g.png" >"$out/gallery.log" 2>&1
		rc=$?
		t1=$(date +%s.%N)
		peak=$(smi_stop)
		tail -3 "$out/gallery.log"
		row "gallery: built-in model, 16 images" "exit $rc, $(python3 -c "print(f'{$t1-$t0:.1f}')") s" "$peak"
		;;
	bench)
		echo "== kata bench actions --quick"
		if [ $dry = 1 ]; then gpu/kata bench actions --help >/dev/null 2>&1 && echo "kata bench actions: flags parse"; fi
		rm -rf "$out/bench-actions"
		smi_start bench
		t0=$(date +%s.%N)
		run env KATA_BACKEND=$be gpu/kata bench actions --quick "${model_flag[@]}" --out "$out/bench-actions" >"$out/bench.log" 2>&1
		rc=$?
		t1=$(date +%s.%N)
		peak=$(smi_stop)
		tail -12 "$out/bench.log"
		row "bench actions --quick" "exit $rc, $(python3 -c "print(f'{$t1-$t0:.1f}')") s" "$peak"
		;;
	world)
		echo "== built-in model: unet training on the GPU"
		ckpt=$out/world-ckpt
		init=${KATA_WORLD_INIT:-${KATA_MODEL:-}}
		if [ -z "$init" ]; then
			echo "world: set KATA_WORLD_INIT (or KATA_MODEL) to an exported model folder"
			row "world: training" "skipped: no KATA_WORLD_INIT" "-"
			continue
		fi
		read -r -a world_args <<<"${KATA_WORLD_ARGS:---batch 64 --steps 6000 --restarts none --lr 5e-4 --weighting p2}"
		mkdir -p "$ckpt"
		smi_start world
		t0=$(date +%s.%N)
		run env KATA_BACKEND=$be timeout -s INT "${KATA_WORLD_SECONDS:-420}" gpu/kata world train --stage unet --resume \
			--init-from "$init" --ckpt "$ckpt" "${world_args[@]}" >"$out/world-train.log" 2>&1
		t1=$(date +%s.%N)
		peak=$(smi_stop)
		tail -4 "$out/world-train.log"
		last=$(grep -oE 'step [0-9]+/[0-9]+' "$out/world-train.log" | tail -1)
		rate=$(grep -oE '[0-9.]+ steps/s' "$out/world-train.log" | tail -1)
		row "world: train ${world_args[*]}" "${last:-no step}, ${rate:-n/a}, $(python3 -c "print(f'{$t1-$t0:.0f}')") s" "$peak"
		run gpu/kata world train --stage export --ckpt "$ckpt" --out "$out/world-model" >>"$out/world-train.log" 2>&1
		run env KATA_BACKEND=$be gpu/kata world probe --model "$out/world-model" --n 16 >"$out/world-probe.txt" 2>&1
		run env KATA_BACKEND=$be gpu/kata world eval --model "$out/world-model" --sheet "$out/world-eval.png" >"$out/world-eval.txt" 2>&1
		run env KATA_BACKEND=$be gpu/kata world grid --model "$out/world-model" --prompt "a blue robot waving on a dotted background" \
			--out "$out/world-grid.png" >>"$out/world-eval.txt" 2>&1
		cat "$out/world-probe.txt" "$out/world-eval.txt" 2>/dev/null | tail -16
		row "world: eval (kind, colour, action)" "$(grep -oE '(kind|colour|action) right +[0-9.]+%' "$out/world-eval.txt" 2>/dev/null | grep -oE '[0-9.]+%' | tr '\n' ' ')" "-"
		rm -f "$ckpt"/*.safetensors # 200 MB of float32 state; the exported folder is what comes back
		;;
	*)
		echo "unknown section $section (doctor parity parity-f32 unet train train1000 levers gallery bench world)"
		exit 2
		;;
	esac
done
echo
echo "== table ($(date -u), backend $be)"
printf '%-40s | %-44s | %s\n' "what" "result" "peak memory.used"
cat "$table"
