package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// winoGemm emits winoGemmE<edge>AVX512: all the GEMMs of one Winograd pass
// in one call. A pass makes 16 or 36 small GEMMs (K = 16 output channels
// by 128 tiles by C = 16 input channels on the CIFAR nets), and Go's loops
// and calls between the kernel's tiles cost about a fifth of their time.
// Here the loops over the elements, the panels of B and the 12-row tiles
// are in assembly; edge is the rows of the last, partial tile (K mod 12),
// a kernel for each so that the edge costs only its own rows.
func winoGemm(edge int) {
	name := fmt.Sprintf("winoGemmE%dAVX512", edge)
	TEXT(name, NOSPLIT, "func(ne, kc, tiles, panels int, a *float32, aStride int, b *float32, bStride int, c *float32, cStride, ldc int, lastMask uint32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s stores C_e = A_e B_e for e < ne: A_e (tiles*12 + %d rows,", name, edge),
		"kc columns) packed in 12-row panels at a + e*aStride, B_e (kc rows,",
		"panels*32 columns) in packed panels at b + e*bStride, C_e at c +",
		"e*cStride with rows ldc floats apart, the last panel's columns under",
		"lastMask. Strides are in floats; kc, tiles+edge and panels are at",
		"least 1.")
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	for _, p := range []string{"aStride", "bStride", "cStride"} {
		r := Load(Param(p), GP64())
		SHLQ(U8(2), r)
		Store(r, Param(p))
	}
	Label("elem")
	bp := Load(Param("b"), GP64())
	cp := Load(Param("c"), GP64())
	pn := Load(Param("panels"), GP64())
	ks := [2]Register{K(), K()}
	m := GP32()
	MOVL(U32(0xffffffff), m)
	KMOVW(m, ks[0])
	KMOVW(m, ks[1])
	Label("panel")
	CMPQ(pn, U8(1))
	JNE(LabelRef("full"))
	Load(Param("lastMask"), m)
	KMOVW(m, ks[0])
	SHRL(U8(16), m)
	KMOVW(m, ks[1])
	Label("full")
	a := Load(Param("a"), GP64())
	crow := GP64()
	MOVQ(cp, crow)
	if edge < 12 {
		tn := Load(Param("tiles"), GP64())
		TESTQ(tn, tn)
		JZ(LabelRef("edge"))
		Label("tile")
		winoGemmTile(12, "t", a, bp, crow, ldc, ks)
		DECQ(tn)
		JNZ(LabelRef("tile"))
		Label("edge")
		if edge > 0 {
			winoGemmTile(edge, "e", a, bp, crow, ldc, ks)
		}
	}
	// The next panel of B and C.
	kc := Load(Param("kc"), GP64())
	SHLQ(U8(7), kc)
	ADDQ(kc, bp)
	ADDQ(U8(128), cp)
	DECQ(pn)
	JNZ(LabelRef("panel"))
	// The next element's A, B and C.
	for _, p := range [][2]string{{"a", "aStride"}, {"b", "bStride"}, {"c", "cStride"}} {
		r, s := GP64(), GP64()
		Load(Param(p[0]), r)
		Load(Param(p[1]), s)
		ADDQ(s, r)
		Store(r, Param(p[0]))
	}
	ne := Load(Param("ne"), GP64())
	DECQ(ne)
	Store(ne, Param("ne"))
	JNZ(LabelRef("elem"))
	VZEROUPPER()
	RET()
}

// winoGemmTile emits one rows x 32 tile: kc steps of k from a (which it
// leaves at the next panel of A) against the panel of B at b, stored at
// crow under the column masks ks, leaving crow at the next tile's rows.
func winoGemmTile(rows int, l string, a, b, crow, ldc Register, ks [2]Register) {
	acc := make([]VecVirtual, 2*rows)
	for i := range acc {
		acc[i] = ZMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	bv := [2]VecVirtual{ZMM(), ZMM()}
	kc := Load(Param("kc"), GP64())
	bw := GP64()
	MOVQ(b, bw)
	step := func(u int) {
		for j := range bv {
			VMOVUPS(Mem{Base: bw, Disp: 128*u + 64*j}, bv[j])
		}
		for i := range rows {
			for j := range bv {
				VFMADD231PS_BCST(Mem{Base: a, Disp: 48*u + 4*i}, bv[j], acc[2*i+j])
			}
		}
	}
	CMPQ(kc, U8(4))
	JB(LabelRef(l + "tail"))
	Label(l + "loop4")
	for u := range 4 {
		step(u)
	}
	// A 4 KB ahead, as kLoop's: a pass's first panel of B streams each
	// A_e from memory at batch 1 (resnet50's 128-channel convs at 28x28:
	// 0.392 ms instead of 0.407), or from L3 at batch 8 (2.95 instead of
	// 3.16), medians of 6 interleaved runs.
	prefetchAhead(a)
	ADDQ(U32(4*48), a)
	ADDQ(U32(4*128), bw)
	SUBQ(U8(4), kc)
	CMPQ(kc, U8(4))
	JAE(LabelRef(l + "loop4"))
	Label(l + "tail")
	TESTQ(kc, kc)
	JZ(LabelRef(l + "done"))
	Label(l + "loop1")
	step(0)
	ADDQ(U32(48), a)
	ADDQ(U32(128), bw)
	DECQ(kc)
	JNZ(LabelRef(l + "loop1"))
	Label(l + "done")
	for i := range rows {
		for j := range bv {
			VMOVUPS(acc[2*i+j], ks[j], Mem{Base: crow, Disp: 64 * j})
		}
		ADDQ(ldc, crow)
	}
}
