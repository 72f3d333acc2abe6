#!/usr/bin/env bash
# Issue 8's GPU check, in two halves.
#
# Here (any machine with Go):   scripts/gpu-check.sh build
#   builds the cuda test binaries of resnet20 and resnet50 into build/gpu/
#   (the device machine has no Go toolchain).
# On the GPU machine:           scripts/gpu-check.sh run
#   (through the device tool: run with carry ["build/gpu"]) makes the
#   machine's NVRTC answer to the soname the binaries link
#   (libnvrtc.so.11.2), compares Forward and two SGD steps with the CPU
#   packages (relative error <= 1e-4), times resnet50 inference at batch 64
#   and a ResNet-20 training step at batch 128, times PyTorch with cuDNN on
#   the same workloads, and prints the ratios last. Logs go to $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
build)
	eval "$(scripts/cuda-deps.sh)"
	mkdir -p build/gpu
	for m in resnet20 resnet50; do
		go test -c -tags cuda -o "build/gpu/$m.test" "./generated/$m/cuda"
	done
	cp scripts/torch_gpu_bench.py build/gpu/
	ls -la build/gpu
	;;
run)
	out=${OUT:-/tmp/gpu-check}
	mkdir -p "$out" /tmp/nvrtc-shim
	nv=$(ldconfig -p | awk '/libnvrtc\.so/ {print $NF; exit}')
	[ -n "$nv" ] || nv=$(find / -name 'libnvrtc.so*' -not -path '*/proc/*' 2>/dev/null | head -1)
	[ -n "$nv" ] || { echo "no libnvrtc on this machine" >&2; exit 1; }
	ln -sf "$nv" /tmp/nvrtc-shim/libnvrtc.so.11.2
	builtins=$(dirname "$nv")
	export LD_LIBRARY_PATH=/tmp/nvrtc-shim:$builtins${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
	for m in resnet20 resnet50; do
		(cd build/gpu && ./$m.test -test.v -test.run TestMatchesCPU -test.bench . -test.benchtime 20x) 2>&1 | tee "$out/$m.log"
	done
	python3 build/gpu/torch_gpu_bench.py 2>&1 | tee "$out/torch.log"
	echo "== summary"
	grep -h -E "relative error|worst tensor|Benchmark" "$out"/resnet20.log "$out"/resnet50.log || true
	cat "$out/torch.log"
	;;
*)
	echo "usage: scripts/gpu-check.sh build|run" >&2
	exit 2
	;;
esac
