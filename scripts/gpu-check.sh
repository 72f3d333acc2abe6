#!/usr/bin/env bash
# The GPU check, in two halves: issue 8's comparison and timings, and
# issue 7's full-recipe ResNet-20 training on Fashion-MNIST.
#
# Here (any machine with Go):   scripts/gpu-check.sh build
#   builds into build/gpu/, packed as build/gpu.tgz (the device machine has
#   no Go toolchain, and a working tree travels there only up to 64 MiB):
#   a libnvrtc.so.11.2 shim (scripts/nvrtc-shim) that forwards to the
#   machine's NVRTC, as the binaries link Debian's NVRTC 11 by version;
#   the cuda test binaries of resnet20 and resnet50, resnetc-train built
#   with -tags cuda, their PTX for compute_90 compiled here by Debian's
#   NVRTC into a cache the binaries read first (so nothing depends on the
#   NVRTC there), Fashion-MNIST and the PyTorch timing script.
# On the GPU machine:           scripts/gpu-check.sh run
#   (through the device tool: run with carry ["build/gpu.tgz"] and a
#   timeout_s of 590) compares Forward and two SGD steps of resnet20 with the
#   CPU package (relative error <= 1e-4) and times them; then, only if that
#   passed, trains ResNet-20 with the paper's full recipe (64k iterations)
#   into $OUT/r20 until 480 s into the run, from where `resnetc-train
#   -resume` continues on any machine; then, in the time left, the resnet50
#   comparison and PyTorch with cuDNN on the same workloads. One log:
#   $OUT/log.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
build)
	eval "$(scripts/cuda-deps.sh)"
	rm -rf build/gpu build/gpu.tgz
	mkdir -p build/gpu/fashion-mnist
	for m in resnet20 resnet50; do
		go test -c -tags cuda -ldflags '-s -w' -o "build/gpu/$m.test" "./generated/$m/cuda"
	done
	go build -tags cuda -ldflags '-s -w' -o build/gpu/resnetc-train ./cmd/resnetc-train
	go run -tags nvrtc ./scripts/ptxcache -arch compute_90 -o build/gpu/cache \
		generated/resnet20/cuda/kernels.cu generated/resnet50/cuda/kernels.cu
	cp /usr/share/datasets/fashion-mnist/*.gz build/gpu/fashion-mnist/
	cp scripts/torch_gpu_bench.py build/gpu/
	mkdir -p build/gpu/nvrtc-shim
	gcc -shared -fPIC -O2 -Wall -o build/gpu/nvrtc-shim/libnvrtc.so.11.2 -Wl,-soname,libnvrtc.so.11.2 \
		-Wl,--version-script=scripts/nvrtc-shim/shim.map scripts/nvrtc-shim/shim.c -ldl
	tar -C build -czf build/gpu.tgz gpu
	ls -la build/gpu.tgz
	;;
run)
	out=${OUT:-/tmp/gpu-check}
	mkdir -p "$out/r20"
	run_all() {
		local start g nv ok=0
		start=$(date +%s)
		left() { echo $((start + $1 - $(date +%s) > 1 ? start + $1 - $(date +%s) : 1)); }
		tar -C /tmp -xzf build/gpu.tgz
		g=/tmp/gpu
		nv=$(ldconfig -p | awk '/libnvrtc\.so\.[0-9]+ / {print $NF; exit}')
		[ -n "$nv" ] || nv=$(find /usr/local /usr/lib /opt -name 'libnvrtc.so.[0-9]*' 2>/dev/null | head -1)
		echo "NVRTC here: ${nv:-none} (used only if the PTX cache misses)"
		export RESNETC_NVRTC=$nv
		export LD_LIBRARY_PATH=$g/nvrtc-shim${nv:+:$(dirname "$nv")}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
		export XDG_CACHE_HOME=$g/cache
		nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
		echo "== resnet20 against the CPU package"
		(cd $g && timeout 120 ./resnet20.test -test.v -test.run TestMatchesCPU -test.bench . -test.benchtime 20x) && ok=1
		if [ $ok = 1 ]; then
			echo "== ResNet-20, full recipe, for $(left 480) s at most"
			timeout "$(left 480)" $g/resnetc-train -device cuda -model resnet20 -data fashion-mnist:$g/fashion-mnist \
				-iters 64000 -checkpoint-every 500 -o "$out/r20" || echo "resnetc-train stopped: $?"
			tail -3 "$out/r20/metrics.csv" || true
		fi
		echo "== resnet50 against the CPU package"
		(cd $g && timeout "$(left 540)" ./resnet50.test -test.v -test.run TestMatchesCPU -test.bench . -test.benchtime 10x) || echo "resnet50: $?"
		echo "== PyTorch"
		timeout "$(left 580)" python3 $g/torch_gpu_bench.py || echo "torch: $?"
	}
	run_all 2>&1 | tee "$out/log.txt"
	echo "== summary"
	grep -h -E "relative error|worst tensor|Benchmark|final train|resnetc-train stopped" "$out/log.txt" || true
	;;
*)
	echo "usage: scripts/gpu-check.sh build|run" >&2
	exit 2
	;;
esac
