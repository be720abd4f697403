# RV64F: single-precision arithmetic, FMA, sign injection, min/max, compares, conversions, moves, classification,
# NaN boxing and the accrued flags.
    .include "common.inc"
    # The result of inst fd, fs1, fs2 on single bit patterns, as bits.
    .macro FTEST name, inst, result, v1, v2
    li t1, \v1
    fmv.w.x f1, t1
    li t2, \v2
    fmv.w.x f2, t2
    \inst f3, f1, f2
    fmv.x.w t0, f3
    slli t0, t0, 32          # fmv.x.w sign-extends; the results are written as 32-bit patterns
    srli t0, t0, 32
    li t3, \result
    CHECK "\name", t0, t3
    .endm
tests:
    FTEST "fadd.s", fadd.s, 0x40400000, 0x40000000, 0x3f800000      # 2 + 1
    FTEST "fsub.s", fsub.s, 0xbf800000, 0x40000000, 0x40400000      # 2 - 3
    FTEST "fmul.s", fmul.s, 0x40c00000, 0x40000000, 0x40400000      # 2 * 3
    FTEST "fdiv.s", fdiv.s, 0x3f000000, 0x3f800000, 0x40000000      # 1 / 2
    FTEST "fsgnj.s", fsgnj.s, 0xbf800000, 0x3f800000, 0x80000000
    FTEST "fsgnjn.s", fsgnjn.s, 0x3f800000, 0x3f800000, 0x80000000
    FTEST "fsgnjx.s", fsgnjx.s, 0x3f800000, 0xbf800000, 0x80000000
    FTEST "fmin.s", fmin.s, 0xbf800000, 0x3f800000, 0xbf800000
    FTEST "fmax.s", fmax.s, 0x3f800000, 0x3f800000, 0xbf800000
    FTEST "fmin.s of -0 and +0", fmin.s, 0x80000000, 0x00000000, 0x80000000
    FTEST "fmax.s with a NaN", fmax.s, 0x3f800000, 0x7fc00000, 0x3f800000
    FTEST "0/0 is the canonical NaN", fdiv.s, 0x7fc00000, 0x00000000, 0x00000000

    li t1, 0x40800000       # 4
    fmv.w.x f1, t1
    fsqrt.s f3, f1
    fmv.x.w t0, f3
    li t3, 0x40000000
    CHECK "fsqrt.s", t0, t3
    li t1, 0x40000000       # 2*3+1
    fmv.w.x f1, t1
    li t1, 0x40400000
    fmv.w.x f2, t1
    li t1, 0x3f800000
    fmv.w.x f4, t1
    fmadd.s f3, f1, f2, f4
    fmv.x.w t0, f3
    li t3, 0x40e00000
    CHECK "fmadd.s", t0, t3
    fnmsub.s f3, f1, f2, f4  # -(2*3)+1
    fmv.x.w t0, f3
    li t3, 0xffffffffc0a00000
    CHECK "fnmsub.s", t0, t3

    li t1, 0x3fc00000       # 1.5
    fmv.w.x f1, t1
    feq.s t0, f1, f1
    li t3, 1
    CHECK "feq.s", t0, t3
    flt.s t0, f1, f1
    li t3, 0
    CHECK "flt.s", t0, t3
    fle.s t0, f1, f1
    li t3, 1
    CHECK "fle.s", t0, t3
    fcvt.w.s t0, f1, rne
    li t3, 2
    CHECK "fcvt.w.s rne ties to even", t0, t3
    fcvt.w.s t0, f1, rtz
    li t3, 1
    CHECK "fcvt.w.s rtz", t0, t3
    li t1, 0xbfc00000       # -1.5
    fmv.w.x f1, t1
    fcvt.w.s t0, f1, rdn
    li t3, -2
    CHECK "fcvt.w.s rdn", t0, t3
    fcvt.wu.s t0, f1, rtz
    li t3, 0
    CHECK "fcvt.wu.s of a negative saturates to 0", t0, t3
    li t1, 0x7fc00000
    fmv.w.x f1, t1
    fcvt.w.s t0, f1, rtz
    li t3, 0x7fffffff
    CHECK "fcvt.w.s of NaN", t0, t3
    li t1, -7
    fcvt.s.w f3, t1
    fmv.x.w t0, f3
    li t3, 0xffffffffc0e00000
    CHECK "fcvt.s.w, fmv.x.w sign-extends", t0, t3
    li t1, 1
    fcvt.s.lu f3, t1
    fmv.x.w t0, f3
    li t3, 0x3f800000
    CHECK "fcvt.s.lu", t0, t3

    li t1, 0x7f800000
    fmv.w.x f1, t1
    fclass.s t0, f1
    li t3, 1 << 7
    CHECK "fclass.s +inf", t0, t3
    li t1, 0x3ff0000000000000   # a double in f1: not NaN-boxed, so a single sees the canonical NaN
    fmv.d.x f1, t1
    fclass.s t0, f1
    li t3, 1 << 9
    CHECK "an unboxed single is a NaN", t0, t3

    la s0, value
    li t1, 0x40490fdb
    sw t1, 0(s0)
    flw f5, 0(s0)
    fmv.x.d t0, f5
    li t3, 0xffffffff40490fdb
    CHECK "flw NaN-boxes", t0, t3
    fsw f5, 4(s0)
    lwu t0, 4(s0)
    li t3, 0x40490fdb
    CHECK "fsw", t0, t3

    csrw fflags, zero
    li t1, 0xbf800000
    fmv.w.x f1, t1
    fsqrt.s f3, f1
    csrr t0, fflags
    li t3, 0x10
    CHECK "fsqrt.s of -1 raises NV", t0, t3
    csrw fflags, zero
    li t1, 0x3f800000
    fmv.w.x f1, t1
    fmv.w.x f2, zero
    fdiv.s f3, f1, f2
    csrr t0, fflags
    li t3, 0x08
    CHECK "1/0 raises DZ", t0, t3
    csrwi frm, 3
    csrr t0, fcsr
    li t3, 0x68
    CHECK "fcsr is frm and fflags", t0, t3
    FINISH

    .data
    .align 3
value: .dword 0
