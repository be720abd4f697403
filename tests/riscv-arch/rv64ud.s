# RV64D: double-precision arithmetic, FMA, conversions between the formats and to and from 64-bit integers, moves,
# compares, classification, loads and stores.
    .include "common.inc"
    .macro DTEST name, inst, result, v1, v2
    li t1, \v1
    fmv.d.x f1, t1
    li t2, \v2
    fmv.d.x f2, t2
    \inst f3, f1, f2
    fmv.x.d t0, f3
    li t3, \result
    CHECK "\name", t0, t3
    .endm
tests:
    DTEST "fadd.d", fadd.d, 0x4008000000000000, 0x4000000000000000, 0x3ff0000000000000
    DTEST "fsub.d", fsub.d, 0xbff0000000000000, 0x4000000000000000, 0x4008000000000000
    DTEST "fmul.d", fmul.d, 0x4018000000000000, 0x4000000000000000, 0x4008000000000000
    DTEST "fdiv.d", fdiv.d, 0x3fd5555555555555, 0x3ff0000000000000, 0x4008000000000000
    DTEST "fsgnjn.d", fsgnjn.d, 0xbff0000000000000, 0x3ff0000000000000, 0x0000000000000000
    DTEST "fmin.d", fmin.d, 0xc000000000000000, 0xc000000000000000, 0x3ff0000000000000
    DTEST "fmax.d of two NaNs is canonical", fmax.d, 0x7ff8000000000000, 0x7ff0000000000001, 0x7ff8000000000005
    DTEST "inf - inf is the canonical NaN", fsub.d, 0x7ff8000000000000, 0x7ff0000000000000, 0x7ff0000000000000

    li t1, 0x4022000000000000   # 9
    fmv.d.x f1, t1
    fsqrt.d f3, f1
    fmv.x.d t0, f3
    li t3, 0x4008000000000000
    CHECK "fsqrt.d", t0, t3
    li t1, 0x3ff0000000000000
    fmv.d.x f2, t1
    fmsub.d f3, f1, f2, f2      # 9*1-1
    fmv.x.d t0, f3
    li t3, 0x4020000000000000
    CHECK "fmsub.d", t0, t3
    fnmadd.d f3, f1, f2, f2     # -(9*1)-1
    fmv.x.d t0, f3
    li t3, 0xc024000000000000
    CHECK "fnmadd.d", t0, t3

    li t1, 0x400c000000000000   # 3.5
    fmv.d.x f1, t1
    fcvt.l.d t0, f1, rne
    li t3, 4
    CHECK "fcvt.l.d rne", t0, t3
    fcvt.l.d t0, f1, rmm
    li t3, 4
    CHECK "fcvt.l.d rmm", t0, t3
    fcvt.l.d t0, f1, rup
    li t3, 4
    CHECK "fcvt.l.d rup", t0, t3
    li t1, 0x43e0000000000000   # 2^63
    fmv.d.x f1, t1
    fcvt.l.d t0, f1, rtz
    li t3, 0x7fffffffffffffff
    CHECK "fcvt.l.d saturates", t0, t3
    fcvt.lu.d t0, f1, rtz
    li t3, 0x8000000000000000
    CHECK "fcvt.lu.d", t0, t3
    li t1, -3
    fcvt.d.l f3, t1
    fmv.x.d t0, f3
    li t3, 0xc008000000000000
    CHECK "fcvt.d.l", t0, t3
    li t1, 0xffffffff
    fcvt.d.wu f3, t1
    fmv.x.d t0, f3
    li t3, 0x41efffffffe00000
    CHECK "fcvt.d.wu", t0, t3

    li t1, 0x3ff8000000000000   # 1.5
    fmv.d.x f1, t1
    fcvt.s.d f3, f1
    fmv.x.w t0, f3
    li t3, 0x3fc00000
    CHECK "fcvt.s.d", t0, t3
    fcvt.d.s f4, f3
    fmv.x.d t0, f4
    CHECK "fcvt.d.s", t0, t1
    flt.d t0, f1, f4
    li t3, 0
    CHECK "flt.d", t0, t3
    fle.d t0, f1, f4
    li t3, 1
    CHECK "fle.d", t0, t3
    li t1, 0x8000000000000000
    fmv.d.x f1, t1
    fclass.d t0, f1
    li t3, 1 << 3
    CHECK "fclass.d -0", t0, t3
    li t1, 0x0000000000000001
    fmv.d.x f1, t1
    fclass.d t0, f1
    li t3, 1 << 5
    CHECK "fclass.d subnormal", t0, t3

    la s0, value
    li t1, 0x0123456789abcdef
    sd t1, 0(s0)
    fld f6, 0(s0)
    fsd f6, 8(s0)
    ld t0, 8(s0)
    CHECK "fld, fsd", t0, t1

    csrw fflags, zero
    li t1, 0x7ff0000000000001   # a signaling NaN
    fmv.d.x f1, t1
    feq.d t0, f1, f1
    csrr t0, fflags
    li t3, 0x10
    CHECK "feq.d of a signaling NaN raises NV", t0, t3
    csrw fflags, zero
    li t1, 0x7ff8000000000000
    fmv.d.x f1, t1
    feq.d t0, f1, f1
    csrr t0, fflags
    li t3, 0
    CHECK "feq.d of a quiet NaN is quiet", t0, t3

    li t0, 0x6000
    csrc mstatus, t0            # FS = off: FP instructions are illegal
    EXPECT_TRAP
    fadd.d f1, f1, f1
    TRAPPED "FP with mstatus.FS off", 2
    li t0, 0x2000
    csrs mstatus, t0
    fadd.d f1, f1, f1
    csrr t0, mstatus
    srli t0, t0, 13
    andi t0, t0, 3
    li t3, 3
    CHECK "an FP write makes FS dirty", t0, t3
    FINISH

    .data
    .align 3
value: .dword 0, 0
