#include "emu.h"
#include <setjmp.h>
#include <stdlib.h>
#include <ucontext.h>
#include <vector>

emu_dim3 threadIdx, blockIdx, gridDim;
double emu_shfl[1024];

// A block's threads are coroutines on one OS thread. Each is created once
// per launch with makecontext and then switched with _setjmp/_longjmp,
// which, unlike swapcontext, make no system call: a __syncthreads is a
// switch, and a conv's tile loop has many.
namespace {
constexpr size_t kStack = 256 << 10;
struct Co {
	jmp_buf env;
	ucontext_t uc;
	char* stack;
};
std::vector<Co> coros;
std::vector<char> done;
jmp_buf sched_env;
ucontext_t sched_uc;
int cur;
void (*kernel)(void**);
void** kargs;

void yield() {
	if (!_setjmp(coros[cur].env)) _longjmp(sched_env, 1);
}

void entry() {
	for (;;) {
		yield();  // parked until the scheduler hands it a block
		kernel(kargs);
		done[cur] = 1;
	}
}

void resume(int t) {
	cur = t;
	threadIdx = {(unsigned)t, 0, 0};
	if (!_setjmp(sched_env)) _longjmp(coros[t].env, 1);
}
}  // namespace

void emu_sync() { yield(); }

extern "C" void emu_launch(void (*w)(void**), int gx, int gy, int threads, void** args) {
	kernel = w;
	kargs = args;
	if ((int)coros.size() < threads) {
		size_t old = coros.size();
		coros.resize(threads);
		done.resize(threads);
		for (size_t t = old; t < coros.size(); t++) {
			Co& c = coros[t];
			c.stack = (char*)malloc(kStack);
			getcontext(&c.uc);
			c.uc.uc_stack.ss_sp = c.stack;
			c.uc.uc_stack.ss_size = kStack;
			c.uc.uc_link = nullptr;
			makecontext(&c.uc, entry, 0);
			cur = (int)t;
			// Start it; it parks at its first yield and jumps back here.
			if (!_setjmp(sched_env)) swapcontext(&sched_uc, &c.uc);
		}
	}
	gridDim = {(unsigned)gx, (unsigned)gy, 1};
	for (int b = 0; b < gx * gy; b++) {
		blockIdx = {(unsigned)(b % gx), (unsigned)(b / gx), 0};
		for (int t = 0; t < threads; t++) done[t] = 0;
		// Rounds: each live thread runs to its next barrier or its end.
		for (int live = threads; live > 0;) {
			live = 0;
			for (int t = 0; t < threads; t++) {
				if (done[t]) continue;
				resume(t);
				if (!done[t]) live++;
			}
		}
	}
}
