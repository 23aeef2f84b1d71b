#!/usr/bin/env bash
# GPU checks for Kata, run from the repository root on a machine with an
# NVIDIA GPU and Python's jax CUDA PJRT plugin but no Go toolchain (see
# docs/PERFORMANCE.md, "GPU"). Build the binaries first, on any amd64
# machine with Go and gcc:  make gpu-binaries  (writes gpu/*.test.xz).
#
# Sections (arguments; default all three):
#   parity      the fixture parity tests of model/sd and model/adi through
#               XLA/PJRT (KATA_TEST_BACKEND=xla:cuda), XLA's default precision
#   parity-f32  the model/sd parity tests with TF32 off: NVIDIA_TF32_OVERRIDE=0
#               for cuBLAS/cuDNN and XLA's Triton GEMMs off (they follow the
#               ops' DEFAULT precision, i.e. TF32, not the variable)
#   train       BenchmarkSD15Train: KATA_BENCH_SD15_STEPS ADI steps (default
#               100) of an SD 1.5-size model with random weights at 64x64
#               latents, sampling nvidia-smi's memory.used every 100 ms
#
# Logs go to $OUT (default /tmp/kata-gpu).
set -u
out=${OUT:-/tmp/kata-gpu}
mkdir -p "$out"
root=$PWD
for f in gpu/*.test.xz; do
	python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$f" "${f%.xz}" &&
		chmod +x "${f%.xz}" || exit 1
done
# The test binaries find model/sd/testdata by the source path they were built
# from (KATA_SRC, default /work/main).
src=${KATA_SRC:-/work/main}
if [ ! -e "$src" ]; then mkdir -p "$(dirname "$src")" && ln -s "$root" "$src"; fi

date -u
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

sections=${*:-parity parity-f32 train}
for section in $sections; do
	case $section in
	parity)
		echo "== parity through XLA (default precision)"
		(cd model/sd && KATA_TEST_BACKEND=xla:cuda timeout 180 ../../gpu/sd.test -test.v -test.timeout 170s 2>&1) | tee "$out/sd-parity.log" | grep -E '^(=== RUN|--- |PASS|FAIL|ok)|relative error|panic|rror' | head -150
		(cd model/adi && KATA_TEST_BACKEND=xla:cuda timeout 90 ../../gpu/adi.test -test.v -test.run "Loss|LayerEncodings" -test.timeout 80s 2>&1) | tee "$out/adi-parity.log" | grep -E '^(--- |PASS|FAIL|ok)|error|panic' | head -40
		;;
	parity-f32)
		echo "== parity through XLA, TF32 off"
		(cd model/sd && NVIDIA_TF32_OVERRIDE=0 XLA_FLAGS="$XLA_FLAGS --xla_gpu_enable_triton_gemm=false" KATA_TEST_BACKEND=xla:cuda \
			timeout 120 ../../gpu/sd.test -test.v -test.run "Parity|TextualInversionGradient" -test.timeout 110s 2>&1) | tee "$out/sd-parity-f32.log" | grep -E '^(--- |PASS|FAIL|ok)|relative error|panic' | head -60
		;;
	train)
		echo "== SD 1.5-size ADI training steps"
		nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$out/memory-used-mib.txt" &
		smi=$!
		(cd model/adi && KATA_BACKEND=xla:cuda KATA_BENCH_SD15=1 timeout "${KATA_BENCH_TIMEOUT:-300}" ../../gpu/adi.test \
			-test.run '^$' -test.bench SD15Train -test.benchtime 1x -test.v -test.timeout 0 2>&1) | tee "$out/sd15-train.log" | tail -20
		kill $smi
		echo "peak memory.used (MiB): $(sort -n "$out/memory-used-mib.txt" | tail -1), idle before: $(head -1 "$out/memory-used-mib.txt")"
		;;
	*)
		echo "unknown section $section (parity, parity-f32, train)"
		exit 2
		;;
	esac
done
date -u
