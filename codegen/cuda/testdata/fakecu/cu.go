// Package cu is a CPU stand-in for gorgonia.org/cu with just the API the
// generated host packages use: device memory is host memory and a launch
// runs the kernel's C++ build (kernels.cpp, emu.h) on CPU threads.
package cu

/*
#cgo CXXFLAGS: -std=c++20 -O2
#cgo LDFLAGS: -lstdc++
#include <stdlib.h>
#include <string.h>
typedef void (*emu_wrapper)(void**);
void emu_launch(emu_wrapper w, int gx, int gy, int threads, void** args);
emu_wrapper emu_lookup(const char* name);
*/
import "C"

import (
	"fmt"
	"unsafe"
)

type DevicePtr uintptr
type Device int
type DeviceAttribute int
type ContextFlags int
type CUContext struct{ live bool }
type Module struct{}
type Function struct{ w C.emu_wrapper }
type Stream struct{}

const (
	ComputeCapabilityMajor DeviceAttribute = iota
	ComputeCapabilityMinor
	SchedAuto ContextFlags = 0
)

func GetDevice(ordinal int) (Device, error) { return Device(ordinal), nil }

func (d Device) Attribute(a DeviceAttribute) (int, error) {
	if a == ComputeCapabilityMajor {
		return 8, nil
	}
	return 0, nil
}

func (d Device) MakeContext(flags ContextFlags) (CUContext, error) { return CUContext{live: true}, nil }
func (ctx *CUContext) Destroy() error                              { ctx.live = false; return nil }
func SetCurrentContext(ctx CUContext) error                        { return nil }
func Synchronize() error                                           { return nil }

func MemAlloc(bytes int64) (DevicePtr, error) {
	p := C.calloc(C.size_t(bytes), 1)
	if p == nil {
		return 0, fmt.Errorf("out of memory")
	}
	return DevicePtr(p), nil
}

func MemFree(p DevicePtr) error { C.free(unsafe.Pointer(p)); return nil }

func MemcpyHtoD(dst DevicePtr, src unsafe.Pointer, n int64) error {
	C.memcpy(unsafe.Pointer(dst), src, C.size_t(n))
	return nil
}

func MemcpyDtoH(dst unsafe.Pointer, src DevicePtr, n int64) error {
	C.memcpy(dst, unsafe.Pointer(src), C.size_t(n))
	return nil
}

func MemcpyDtoD(dst, src DevicePtr, n int64) error {
	C.memmove(unsafe.Pointer(dst), unsafe.Pointer(src), C.size_t(n))
	return nil
}

func LoadData(ptx string) (Module, error) { return Module{}, nil }

func (m Module) Function(name string) (Function, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	w := C.emu_lookup(cs)
	if w == nil {
		return Function{}, fmt.Errorf("no kernel %s", name)
	}
	return Function{w: w}, nil
}

// Launch copies each 8-byte argument into C memory, as the real one does.
func (fn Function) Launch(gx, gy, gz, bx, by, bz, shared int, s Stream, params []unsafe.Pointer) error {
	n := len(params)
	vals := (*[1 << 20]uint64)(C.malloc(C.size_t(8 * n)))[:n:n]
	ptrs := (*[1 << 20]unsafe.Pointer)(C.malloc(C.size_t(8 * n)))[:n:n]
	defer C.free(unsafe.Pointer(&vals[0]))
	defer C.free(unsafe.Pointer(&ptrs[0]))
	for i, p := range params {
		vals[i] = *(*uint64)(p)
		ptrs[i] = unsafe.Pointer(&vals[i])
	}
	C.emu_launch(fn.w, C.int(gx), C.int(gy), C.int(bx), (*unsafe.Pointer)(unsafe.Pointer(&ptrs[0])))
	return nil
}
