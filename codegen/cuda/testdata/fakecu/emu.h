// A CPU stand-in for the CUDA built-ins kernels.cu uses, so that its
// kernels run as plain C++ in the emulation test. A block's threads are
// coroutines (ucontext) on one OS thread: each runs until its next
// __syncthreads, and a round of all of them is the barrier. __shared__
// memory is a static (blocks run one after another); warp shuffles go
// through a per-block buffer.
#pragma once
#include <math.h>
#include <stdint.h>

struct emu_dim3 {
	unsigned x, y, z;
};
extern emu_dim3 threadIdx, blockIdx, gridDim;
void emu_sync();

#define __global__
#define __device__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(n)
#define __restrict__
#define __shared__ static

inline void __syncthreads() { emu_sync(); }

extern double emu_shfl[1024];
inline double __shfl_down_sync(unsigned, double v, int o) {
	unsigned t = threadIdx.x;
	emu_shfl[t] = v;
	__syncthreads();
	double r = (t % 32) + o < 32 ? emu_shfl[t + o] : v;
	__syncthreads();
	return r;
}

// One OS thread runs every block, so plain adds are atomic here.
inline float atomicAdd(float* p, float v) {
	float old = *p;
	*p = old + v;
	return old;
}
