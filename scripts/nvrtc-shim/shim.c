// A libnvrtc.so.11.2 for machines whose NVRTC is another major version
// (the GPU machine has CUDA 13's libnvrtc.so.13). Binaries built against
// Debian's NVRTC 11 ask for symbols versioned "libnvrtc.so.11.2", which a
// plain symlink to another major version does not provide; this library
// provides them and forwards each call to the library named by
// $RESNETC_NVRTC, whose C API for these calls is the same. Built by
// scripts/gpu-check.sh build.
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

typedef int nvrtcResult;
typedef void* nvrtcProgram;
enum { NVRTC_ERROR_INTERNAL_ERROR = 11 };

static void* real(const char* name) {
	static void* lib;
	if (!lib) {
		const char* path = getenv("RESNETC_NVRTC");
		if (!path || !(lib = dlopen(path, RTLD_NOW))) {
			fprintf(stderr, "nvrtc shim: cannot open $RESNETC_NVRTC (%s): %s\n", path ? path : "unset", dlerror());
			return NULL;
		}
	}
	void* f = dlsym(lib, name);
	if (!f) fprintf(stderr, "nvrtc shim: %s: %s\n", name, dlerror());
	return f;
}

#define FORWARD(name, params, args)                                  \
	nvrtcResult name params {                                        \
		nvrtcResult(*f) params = (nvrtcResult(*) params)real(#name); \
		return f ? f args : NVRTC_ERROR_INTERNAL_ERROR;              \
	}

FORWARD(nvrtcVersion, (int* major, int* minor), (major, minor))
FORWARD(nvrtcCreateProgram, (nvrtcProgram * prog, const char* src, const char* name, int n, const char* const* headers, const char* const* names),
        (prog, src, name, n, headers, names))
FORWARD(nvrtcDestroyProgram, (nvrtcProgram * prog), (prog))
FORWARD(nvrtcCompileProgram, (nvrtcProgram prog, int n, const char* const* options), (prog, n, options))
FORWARD(nvrtcGetPTXSize, (nvrtcProgram prog, size_t* size), (prog, size))
FORWARD(nvrtcGetPTX, (nvrtcProgram prog, char* ptx), (prog, ptx))
FORWARD(nvrtcGetProgramLogSize, (nvrtcProgram prog, size_t* size), (prog, size))
FORWARD(nvrtcGetProgramLog, (nvrtcProgram prog, char* log), (prog, log))
FORWARD(nvrtcAddNameExpression, (nvrtcProgram prog, const char* const expr), (prog, expr))
FORWARD(nvrtcGetLoweredName, (nvrtcProgram prog, const char* const expr, const char** lowered), (prog, expr, lowered))
