# RV64D: rounding in every mode (static rm and dynamic frm) and the exception flags, for double-precision
# arithmetic, square root, FMA and conversions, in the manner of riscv-tests' rv64ud-p-fadd, fdiv, fmadd, fcvt and
# fcvt_w (which check fflags with every result), plus directed rounding, ties, overflow and underflow (tininess after
# rounding) that riscv-tests reaches through its softfloat-generated cases.
    .include "common.inc"
    .macro FLOAD freg, xreg
    fmv.d.x \freg, \xreg
    .endm
    .macro OTHER_FLOAD freg, xreg
    fmv.w.x \freg, \xreg
    .endm
    .macro FRESULT xreg, freg
    fmv.x.d \xreg, \freg
    .endm
    .include "rounding.inc"
tests:
    FOP2 "fadd 2.5+1.0", fadd.d, rne, 0x400c000000000000, 0, 0x4004000000000000, 0x3ff0000000000000
    FOP2 "fadd -1235.1+1.1", fadd.d, rne, 0xc093480000000000, 1, 0xc0934c6666666666, 0x3ff199999999999a
    FOP2 "fadd pi+1e-8", fadd.d, rne, 0x400921fb55206ddf, 1, 0x400921fb53c8d4f1, 0x3e45798ee2308c3a
    FOP2 "fsub -1235.1-(-1.1)", fsub.d, rne, 0xc093480000000000, 1, 0xc0934c6666666666, 0xbff199999999999a
    FOP2 "fmul -1235.1*-1.1", fmul.d, rne, 0x40953a70a3d70a3d, 1, 0xc0934c6666666666, 0xbff199999999999a
    FOP2 "fmul pi*1e-8", fmul.d, rne, 0x3e60ddc5a5c1ff09, 1, 0x400921fb53c8d4f1, 0x3e45798ee2308c3a
    FOP2 "fdiv pi/e", fdiv.d, rne, 0x3ff27ddbf6c383ec, 1, 0x400921fb53c8d4f1, 0x4005bf0a89f1b0dd
    FOP2 "fdiv -1234/1235.1", fdiv.d, rne, 0xbfeff8b43e1929a5, 1, 0xc093480000000000, 0x40934c6666666666
    FOP2 "fdiv pi/1", fdiv.d, rne, 0x400921fb53c8d4f1, 0, 0x400921fb53c8d4f1, 0x3ff0000000000000
    FOP1 "fsqrt pi", fsqrt.d, rne, 0x3ffc5bf8916f587b, 1, 0x400921fb53c8d4f1
    FOP1 "fsqrt 10000", fsqrt.d, rne, 0x4059000000000000, 0, 0x40c3880000000000
    FOP1 "fsqrt 171", fsqrt.d, rne, 0x402a2744ce9674f5, 1, 0x4065600000000000
    FOP2 "fadd rne 1+ulp/4", fadd.d, rne, 0x3ff0000000000000, 1, 0x3ff0000000000000, 0x3c90000000000000
    FOP2 "fadd rne -1-ulp/4", fadd.d, rne, 0xbff0000000000000, 1, 0xbff0000000000000, 0xbc90000000000000
    FOP2 "fadd rne 1+ulp/2 tie", fadd.d, rne, 0x3ff0000000000000, 1, 0x3ff0000000000000, 0x3ca0000000000000
    FOP2 "fadd rne odd+ulp/2 tie", fadd.d, rne, 0x3ff0000000000002, 1, 0x3ff0000000000001, 0x3ca0000000000000
    FOP2 "fsub rne 1-ulp/8", fsub.d, rne, 0x3ff0000000000000, 1, 0x3ff0000000000000, 0x3c90000000000000
    FOP2 "fdiv rne 1/3", fdiv.d, rne, 0x3fd5555555555555, 1, 0x3ff0000000000000, 0x4008000000000000
    FOP2 "fdiv rne -2/3", fdiv.d, rne, 0xbfe5555555555555, 1, 0xc000000000000000, 0x4008000000000000
    FOP1 "fsqrt rne 2", fsqrt.d, rne, 0x3ff6a09e667f3bcd, 1, 0x4000000000000000
    FOP3 "fmadd rne (1/3)*3-1", fmadd.d, rne, 0xbc90000000000000, 0, 0x3fd5555555555555, 0x4008000000000000, 0xbff0000000000000
    FOP3 "fnmsub rne -(1+u)^2+1", fnmsub.d, rne, 0xbcc0000000000000, 1, 0x3ff0000000000001, 0x3ff0000000000001, 0x3ff0000000000000
    FOP2 "fmul rne max*2 overflows", fmul.d, rne, 0x7ff0000000000000, 5, 0x7fefffffffffffff, 0x4000000000000000
    FOP2 "fmul rne -max*1.5 overflows", fmul.d, rne, 0xfff0000000000000, 5, 0xffefffffffffffff, 0x3ff8000000000000
    FOP2 "fadd rne max+ulp/2", fadd.d, rne, 0x7ff0000000000000, 5, 0x7fefffffffffffff, 0x7c90000000000000
    FOP2 "fmul rne minsub/2 underflows", fmul.d, rne, 0x0000000000000000, 3, 0x0000000000000001, 0x3fe0000000000000
    FOP2 "fmul rne -minsub*0.75", fmul.d, rne, 0x8000000000000001, 3, 0x8000000000000001, 0x3fe8000000000000
    FOP2 "fmul rne minnormal*(1-ulp/2) tiny after rounding", fmul.d, rne, 0x0010000000000000, 3, 0x0010000000000000, 0x3fefffffffffffff
    FOP2 "fdiv rne subnormal quotient", fdiv.d, rne, 0x0000000155555555, 3, 0x0170000000000000, 0x4288000000000000
    FCVT_FROM_INT "fcvt from int rne 2^p+1", fcvt.d.l, rne, 0x4340000000000000, 1, 9007199254740993
    FCVT_FROM_INT "fcvt from int rne -(2^p+3)", fcvt.d.l, rne, 0xc340000000000002, 1, -9007199254740995
    FCVT_FROM_INT "fcvt.lu rne 2^64-1", fcvt.d.lu, rne, 0x43f0000000000000, 1, 18446744073709551615
    FCVT_TO_INT "fcvt.w rne 2.5", fcvt.w.d, rne, 0x0000000000000002, 1, 0x4004000000000000
    FCVT_TO_INT "fcvt.w rne -2.5", fcvt.w.d, rne, 0xfffffffffffffffe, 1, 0xc004000000000000
    FCVT_TO_INT "fcvt.wu rne -0.5", fcvt.wu.d, rne, 0x0000000000000000, 1, 0xbfe0000000000000
    FCVT_TO_INT "fcvt.w rne 2147483647.5", fcvt.w.d, rne, 0x000000007fffffff, 16, 0x41dfffffffe00000
    FCVT_TO_INT "fcvt.w rne -2147483648.5", fcvt.w.d, rne, 0xffffffff80000000, 1, 0xc1e0000000100000
    FCVT_TO_INT "fcvt.l rne 0.5", fcvt.l.d, rne, 0x0000000000000000, 1, 0x3fe0000000000000
    FCVT_TO_INT "fcvt.l rne -1.5", fcvt.l.d, rne, 0xfffffffffffffffe, 1, 0xbff8000000000000
    FCVT_TO_INT "fcvt.l rne 9.223372036854776e+18", fcvt.l.d, rne, 0x7fffffffffffffff, 16, 0x43e0000000000000
    FCVT_TO_INT "fcvt.l rne -9.223372036854776e+18", fcvt.l.d, rne, 0x8000000000000000, 0, 0xc3e0000000000000
    FCVT_TO_INT "fcvt.wu rne 4294967295.5", fcvt.wu.d, rne, 0xffffffffffffffff, 16, 0x41effffffff00000
    FCVT_TO_INT "fcvt.lu rne 1.8446744073709552e+19", fcvt.lu.d, rne, 0xffffffffffffffff, 16, 0x43f0000000000000
    FCVT_TO_INT "fcvt.lu rne -0.9", fcvt.lu.d, rne, 0x0000000000000000, 16, 0xbfeccccccccccccd
    FOP2 "fadd rtz 1+ulp/4", fadd.d, rtz, 0x3ff0000000000000, 1, 0x3ff0000000000000, 0x3c90000000000000
    FOP2 "fadd rtz -1-ulp/4", fadd.d, rtz, 0xbff0000000000000, 1, 0xbff0000000000000, 0xbc90000000000000
    FOP2 "fadd rtz 1+ulp/2 tie", fadd.d, rtz, 0x3ff0000000000000, 1, 0x3ff0000000000000, 0x3ca0000000000000
    FOP2 "fadd rtz odd+ulp/2 tie", fadd.d, rtz, 0x3ff0000000000001, 1, 0x3ff0000000000001, 0x3ca0000000000000
    FOP2 "fsub rtz 1-ulp/8", fsub.d, rtz, 0x3fefffffffffffff, 1, 0x3ff0000000000000, 0x3c90000000000000
    FOP2 "fdiv rtz 1/3", fdiv.d, rtz, 0x3fd5555555555555, 1, 0x3ff0000000000000, 0x4008000000000000
    FOP2 "fdiv rtz -2/3", fdiv.d, rtz, 0xbfe5555555555555, 1, 0xc000000000000000, 0x4008000000000000
    FOP1 "fsqrt rtz 2", fsqrt.d, rtz, 0x3ff6a09e667f3bcc, 1, 0x4000000000000000
    FOP3 "fmadd rtz (1/3)*3-1", fmadd.d, rtz, 0xbc90000000000000, 0, 0x3fd5555555555555, 0x4008000000000000, 0xbff0000000000000
    FOP3 "fnmsub rtz -(1+u)^2+1", fnmsub.d, rtz, 0xbcc0000000000000, 1, 0x3ff0000000000001, 0x3ff0000000000001, 0x3ff0000000000000
    FOP2 "fmul rtz max*2 overflows", fmul.d, rtz, 0x7fefffffffffffff, 5, 0x7fefffffffffffff, 0x4000000000000000
    FOP2 "fmul rtz -max*1.5 overflows", fmul.d, rtz, 0xffefffffffffffff, 5, 0xffefffffffffffff, 0x3ff8000000000000
    FOP2 "fadd rtz max+ulp/2", fadd.d, rtz, 0x7fefffffffffffff, 1, 0x7fefffffffffffff, 0x7c90000000000000
    FOP2 "fmul rtz minsub/2 underflows", fmul.d, rtz, 0x0000000000000000, 3, 0x0000000000000001, 0x3fe0000000000000
    FOP2 "fmul rtz -minsub*0.75", fmul.d, rtz, 0x8000000000000000, 3, 0x8000000000000001, 0x3fe8000000000000
    FOP2 "fmul rtz minnormal*(1-ulp/2) tiny after rounding", fmul.d, rtz, 0x000fffffffffffff, 3, 0x0010000000000000, 0x3fefffffffffffff
    FOP2 "fdiv rtz subnormal quotient", fdiv.d, rtz, 0x0000000155555555, 3, 0x0170000000000000, 0x4288000000000000
    FCVT_FROM_INT "fcvt from int rtz 2^p+1", fcvt.d.l, rtz, 0x4340000000000000, 1, 9007199254740993
    FCVT_FROM_INT "fcvt from int rtz -(2^p+3)", fcvt.d.l, rtz, 0xc340000000000001, 1, -9007199254740995
    FCVT_FROM_INT "fcvt.lu rtz 2^64-1", fcvt.d.lu, rtz, 0x43efffffffffffff, 1, 18446744073709551615
    FCVT_TO_INT "fcvt.w rtz 2.5", fcvt.w.d, rtz, 0x0000000000000002, 1, 0x4004000000000000
    FCVT_TO_INT "fcvt.w rtz -2.5", fcvt.w.d, rtz, 0xfffffffffffffffe, 1, 0xc004000000000000
    FCVT_TO_INT "fcvt.wu rtz -0.5", fcvt.wu.d, rtz, 0x0000000000000000, 1, 0xbfe0000000000000
    FCVT_TO_INT "fcvt.w rtz 2147483647.5", fcvt.w.d, rtz, 0x000000007fffffff, 1, 0x41dfffffffe00000
    FCVT_TO_INT "fcvt.w rtz -2147483648.5", fcvt.w.d, rtz, 0xffffffff80000000, 1, 0xc1e0000000100000
    FCVT_TO_INT "fcvt.l rtz 0.5", fcvt.l.d, rtz, 0x0000000000000000, 1, 0x3fe0000000000000
    FCVT_TO_INT "fcvt.l rtz -1.5", fcvt.l.d, rtz, 0xffffffffffffffff, 1, 0xbff8000000000000
    FCVT_TO_INT "fcvt.l rtz 9.223372036854776e+18", fcvt.l.d, rtz, 0x7fffffffffffffff, 16, 0x43e0000000000000
    FCVT_TO_INT "fcvt.l rtz -9.223372036854776e+18", fcvt.l.d, rtz, 0x8000000000000000, 0, 0xc3e0000000000000
    FCVT_TO_INT "fcvt.wu rtz 4294967295.5", fcvt.wu.d, rtz, 0xffffffffffffffff, 1, 0x41effffffff00000
    FCVT_TO_INT "fcvt.lu rtz 1.8446744073709552e+19", fcvt.lu.d, rtz, 0xffffffffffffffff, 16, 0x43f0000000000000
    FCVT_TO_INT "fcvt.lu rtz -0.9", fcvt.lu.d, rtz, 0x0000000000000000, 1, 0xbfeccccccccccccd
    FOP2 "fadd rdn 1+ulp/4", fadd.d, rdn, 0x3ff0000000000000, 1, 0x3ff0000000000000, 0x3c90000000000000
    FOP2 "fadd rdn -1-ulp/4", fadd.d, rdn, 0xbff0000000000001, 1, 0xbff0000000000000, 0xbc90000000000000
    FOP2 "fadd rdn 1+ulp/2 tie", fadd.d, rdn, 0x3ff0000000000000, 1, 0x3ff0000000000000, 0x3ca0000000000000
    FOP2 "fadd rdn odd+ulp/2 tie", fadd.d, rdn, 0x3ff0000000000001, 1, 0x3ff0000000000001, 0x3ca0000000000000
    FOP2 "fsub rdn 1-ulp/8", fsub.d, rdn, 0x3fefffffffffffff, 1, 0x3ff0000000000000, 0x3c90000000000000
    FOP2 "fdiv rdn 1/3", fdiv.d, rdn, 0x3fd5555555555555, 1, 0x3ff0000000000000, 0x4008000000000000
    FOP2 "fdiv rdn -2/3", fdiv.d, rdn, 0xbfe5555555555556, 1, 0xc000000000000000, 0x4008000000000000
    FOP1 "fsqrt rdn 2", fsqrt.d, rdn, 0x3ff6a09e667f3bcc, 1, 0x4000000000000000
    FOP3 "fmadd rdn (1/3)*3-1", fmadd.d, rdn, 0xbc90000000000000, 0, 0x3fd5555555555555, 0x4008000000000000, 0xbff0000000000000
    FOP3 "fnmsub rdn -(1+u)^2+1", fnmsub.d, rdn, 0xbcc0000000000001, 1, 0x3ff0000000000001, 0x3ff0000000000001, 0x3ff0000000000000
    FOP2 "fmul rdn max*2 overflows", fmul.d, rdn, 0x7fefffffffffffff, 5, 0x7fefffffffffffff, 0x4000000000000000
    FOP2 "fmul rdn -max*1.5 overflows", fmul.d, rdn, 0xfff0000000000000, 5, 0xffefffffffffffff, 0x3ff8000000000000
    FOP2 "fadd rdn max+ulp/2", fadd.d, rdn, 0x7fefffffffffffff, 1, 0x7fefffffffffffff, 0x7c90000000000000
    FOP2 "fmul rdn minsub/2 underflows", fmul.d, rdn, 0x0000000000000000, 3, 0x0000000000000001, 0x3fe0000000000000
    FOP2 "fmul rdn -minsub*0.75", fmul.d, rdn, 0x8000000000000001, 3, 0x8000000000000001, 0x3fe8000000000000
    FOP2 "fmul rdn minnormal*(1-ulp/2) tiny after rounding", fmul.d, rdn, 0x000fffffffffffff, 3, 0x0010000000000000, 0x3fefffffffffffff
    FOP2 "fdiv rdn subnormal quotient", fdiv.d, rdn, 0x0000000155555555, 3, 0x0170000000000000, 0x4288000000000000
    FCVT_FROM_INT "fcvt from int rdn 2^p+1", fcvt.d.l, rdn, 0x4340000000000000, 1, 9007199254740993
    FCVT_FROM_INT "fcvt from int rdn -(2^p+3)", fcvt.d.l, rdn, 0xc340000000000002, 1, -9007199254740995
    FCVT_FROM_INT "fcvt.lu rdn 2^64-1", fcvt.d.lu, rdn, 0x43efffffffffffff, 1, 18446744073709551615
    FCVT_TO_INT "fcvt.w rdn 2.5", fcvt.w.d, rdn, 0x0000000000000002, 1, 0x4004000000000000
    FCVT_TO_INT "fcvt.w rdn -2.5", fcvt.w.d, rdn, 0xfffffffffffffffd, 1, 0xc004000000000000
    FCVT_TO_INT "fcvt.wu rdn -0.5", fcvt.wu.d, rdn, 0x0000000000000000, 16, 0xbfe0000000000000
    FCVT_TO_INT "fcvt.w rdn 2147483647.5", fcvt.w.d, rdn, 0x000000007fffffff, 1, 0x41dfffffffe00000
    FCVT_TO_INT "fcvt.w rdn -2147483648.5", fcvt.w.d, rdn, 0xffffffff80000000, 16, 0xc1e0000000100000
    FCVT_TO_INT "fcvt.l rdn 0.5", fcvt.l.d, rdn, 0x0000000000000000, 1, 0x3fe0000000000000
    FCVT_TO_INT "fcvt.l rdn -1.5", fcvt.l.d, rdn, 0xfffffffffffffffe, 1, 0xbff8000000000000
    FCVT_TO_INT "fcvt.l rdn 9.223372036854776e+18", fcvt.l.d, rdn, 0x7fffffffffffffff, 16, 0x43e0000000000000
    FCVT_TO_INT "fcvt.l rdn -9.223372036854776e+18", fcvt.l.d, rdn, 0x8000000000000000, 0, 0xc3e0000000000000
    FCVT_TO_INT "fcvt.wu rdn 4294967295.5", fcvt.wu.d, rdn, 0xffffffffffffffff, 1, 0x41effffffff00000
    FCVT_TO_INT "fcvt.lu rdn 1.8446744073709552e+19", fcvt.lu.d, rdn, 0xffffffffffffffff, 16, 0x43f0000000000000
    FCVT_TO_INT "fcvt.lu rdn -0.9", fcvt.lu.d, rdn, 0x0000000000000000, 16, 0xbfeccccccccccccd
    FOP2 "fadd rup 1+ulp/4", fadd.d, rup, 0x3ff0000000000001, 1, 0x3ff0000000000000, 0x3c90000000000000
    FOP2 "fadd rup -1-ulp/4", fadd.d, rup, 0xbff0000000000000, 1, 0xbff0000000000000, 0xbc90000000000000
    FOP2 "fadd rup 1+ulp/2 tie", fadd.d, rup, 0x3ff0000000000001, 1, 0x3ff0000000000000, 0x3ca0000000000000
    FOP2 "fadd rup odd+ulp/2 tie", fadd.d, rup, 0x3ff0000000000002, 1, 0x3ff0000000000001, 0x3ca0000000000000
    FOP2 "fsub rup 1-ulp/8", fsub.d, rup, 0x3ff0000000000000, 1, 0x3ff0000000000000, 0x3c90000000000000
    FOP2 "fdiv rup 1/3", fdiv.d, rup, 0x3fd5555555555556, 1, 0x3ff0000000000000, 0x4008000000000000
    FOP2 "fdiv rup -2/3", fdiv.d, rup, 0xbfe5555555555555, 1, 0xc000000000000000, 0x4008000000000000
    FOP1 "fsqrt rup 2", fsqrt.d, rup, 0x3ff6a09e667f3bcd, 1, 0x4000000000000000
    FOP3 "fmadd rup (1/3)*3-1", fmadd.d, rup, 0xbc90000000000000, 0, 0x3fd5555555555555, 0x4008000000000000, 0xbff0000000000000
    FOP3 "fnmsub rup -(1+u)^2+1", fnmsub.d, rup, 0xbcc0000000000000, 1, 0x3ff0000000000001, 0x3ff0000000000001, 0x3ff0000000000000
    FOP2 "fmul rup max*2 overflows", fmul.d, rup, 0x7ff0000000000000, 5, 0x7fefffffffffffff, 0x4000000000000000
    FOP2 "fmul rup -max*1.5 overflows", fmul.d, rup, 0xffefffffffffffff, 5, 0xffefffffffffffff, 0x3ff8000000000000
    FOP2 "fadd rup max+ulp/2", fadd.d, rup, 0x7ff0000000000000, 5, 0x7fefffffffffffff, 0x7c90000000000000
    FOP2 "fmul rup minsub/2 underflows", fmul.d, rup, 0x0000000000000001, 3, 0x0000000000000001, 0x3fe0000000000000
    FOP2 "fmul rup -minsub*0.75", fmul.d, rup, 0x8000000000000000, 3, 0x8000000000000001, 0x3fe8000000000000
    FOP2 "fmul rup minnormal*(1-ulp/2) tiny after rounding", fmul.d, rup, 0x0010000000000000, 3, 0x0010000000000000, 0x3fefffffffffffff
    FOP2 "fdiv rup subnormal quotient", fdiv.d, rup, 0x0000000155555556, 3, 0x0170000000000000, 0x4288000000000000
    FCVT_FROM_INT "fcvt from int rup 2^p+1", fcvt.d.l, rup, 0x4340000000000001, 1, 9007199254740993
    FCVT_FROM_INT "fcvt from int rup -(2^p+3)", fcvt.d.l, rup, 0xc340000000000001, 1, -9007199254740995
    FCVT_FROM_INT "fcvt.lu rup 2^64-1", fcvt.d.lu, rup, 0x43f0000000000000, 1, 18446744073709551615
    FCVT_TO_INT "fcvt.w rup 2.5", fcvt.w.d, rup, 0x0000000000000003, 1, 0x4004000000000000
    FCVT_TO_INT "fcvt.w rup -2.5", fcvt.w.d, rup, 0xfffffffffffffffe, 1, 0xc004000000000000
    FCVT_TO_INT "fcvt.wu rup -0.5", fcvt.wu.d, rup, 0x0000000000000000, 1, 0xbfe0000000000000
    FCVT_TO_INT "fcvt.w rup 2147483647.5", fcvt.w.d, rup, 0x000000007fffffff, 16, 0x41dfffffffe00000
    FCVT_TO_INT "fcvt.w rup -2147483648.5", fcvt.w.d, rup, 0xffffffff80000000, 1, 0xc1e0000000100000
    FCVT_TO_INT "fcvt.l rup 0.5", fcvt.l.d, rup, 0x0000000000000001, 1, 0x3fe0000000000000
    FCVT_TO_INT "fcvt.l rup -1.5", fcvt.l.d, rup, 0xffffffffffffffff, 1, 0xbff8000000000000
    FCVT_TO_INT "fcvt.l rup 9.223372036854776e+18", fcvt.l.d, rup, 0x7fffffffffffffff, 16, 0x43e0000000000000
    FCVT_TO_INT "fcvt.l rup -9.223372036854776e+18", fcvt.l.d, rup, 0x8000000000000000, 0, 0xc3e0000000000000
    FCVT_TO_INT "fcvt.wu rup 4294967295.5", fcvt.wu.d, rup, 0xffffffffffffffff, 16, 0x41effffffff00000
    FCVT_TO_INT "fcvt.lu rup 1.8446744073709552e+19", fcvt.lu.d, rup, 0xffffffffffffffff, 16, 0x43f0000000000000
    FCVT_TO_INT "fcvt.lu rup -0.9", fcvt.lu.d, rup, 0x0000000000000000, 1, 0xbfeccccccccccccd
    FOP2 "fadd rmm 1+ulp/4", fadd.d, rmm, 0x3ff0000000000000, 1, 0x3ff0000000000000, 0x3c90000000000000
    FOP2 "fadd rmm -1-ulp/4", fadd.d, rmm, 0xbff0000000000000, 1, 0xbff0000000000000, 0xbc90000000000000
    FOP2 "fadd rmm 1+ulp/2 tie", fadd.d, rmm, 0x3ff0000000000001, 1, 0x3ff0000000000000, 0x3ca0000000000000
    FOP2 "fadd rmm odd+ulp/2 tie", fadd.d, rmm, 0x3ff0000000000002, 1, 0x3ff0000000000001, 0x3ca0000000000000
    FOP2 "fsub rmm 1-ulp/8", fsub.d, rmm, 0x3ff0000000000000, 1, 0x3ff0000000000000, 0x3c90000000000000
    FOP2 "fdiv rmm 1/3", fdiv.d, rmm, 0x3fd5555555555555, 1, 0x3ff0000000000000, 0x4008000000000000
    FOP2 "fdiv rmm -2/3", fdiv.d, rmm, 0xbfe5555555555555, 1, 0xc000000000000000, 0x4008000000000000
    FOP1 "fsqrt rmm 2", fsqrt.d, rmm, 0x3ff6a09e667f3bcd, 1, 0x4000000000000000
    FOP3 "fmadd rmm (1/3)*3-1", fmadd.d, rmm, 0xbc90000000000000, 0, 0x3fd5555555555555, 0x4008000000000000, 0xbff0000000000000
    FOP3 "fnmsub rmm -(1+u)^2+1", fnmsub.d, rmm, 0xbcc0000000000001, 1, 0x3ff0000000000001, 0x3ff0000000000001, 0x3ff0000000000000
    FOP2 "fmul rmm max*2 overflows", fmul.d, rmm, 0x7ff0000000000000, 5, 0x7fefffffffffffff, 0x4000000000000000
    FOP2 "fmul rmm -max*1.5 overflows", fmul.d, rmm, 0xfff0000000000000, 5, 0xffefffffffffffff, 0x3ff8000000000000
    FOP2 "fadd rmm max+ulp/2", fadd.d, rmm, 0x7ff0000000000000, 5, 0x7fefffffffffffff, 0x7c90000000000000
    FOP2 "fmul rmm minsub/2 underflows", fmul.d, rmm, 0x0000000000000001, 3, 0x0000000000000001, 0x3fe0000000000000
    FOP2 "fmul rmm -minsub*0.75", fmul.d, rmm, 0x8000000000000001, 3, 0x8000000000000001, 0x3fe8000000000000
    FOP2 "fmul rmm minnormal*(1-ulp/2) tiny after rounding", fmul.d, rmm, 0x0010000000000000, 3, 0x0010000000000000, 0x3fefffffffffffff
    FOP2 "fdiv rmm subnormal quotient", fdiv.d, rmm, 0x0000000155555555, 3, 0x0170000000000000, 0x4288000000000000
    FCVT_FROM_INT "fcvt from int rmm 2^p+1", fcvt.d.l, rmm, 0x4340000000000001, 1, 9007199254740993
    FCVT_FROM_INT "fcvt from int rmm -(2^p+3)", fcvt.d.l, rmm, 0xc340000000000002, 1, -9007199254740995
    FCVT_FROM_INT "fcvt.lu rmm 2^64-1", fcvt.d.lu, rmm, 0x43f0000000000000, 1, 18446744073709551615
    FCVT_TO_INT "fcvt.w rmm 2.5", fcvt.w.d, rmm, 0x0000000000000003, 1, 0x4004000000000000
    FCVT_TO_INT "fcvt.w rmm -2.5", fcvt.w.d, rmm, 0xfffffffffffffffd, 1, 0xc004000000000000
    FCVT_TO_INT "fcvt.wu rmm -0.5", fcvt.wu.d, rmm, 0x0000000000000000, 16, 0xbfe0000000000000
    FCVT_TO_INT "fcvt.w rmm 2147483647.5", fcvt.w.d, rmm, 0x000000007fffffff, 16, 0x41dfffffffe00000
    FCVT_TO_INT "fcvt.w rmm -2147483648.5", fcvt.w.d, rmm, 0xffffffff80000000, 16, 0xc1e0000000100000
    FCVT_TO_INT "fcvt.l rmm 0.5", fcvt.l.d, rmm, 0x0000000000000001, 1, 0x3fe0000000000000
    FCVT_TO_INT "fcvt.l rmm -1.5", fcvt.l.d, rmm, 0xfffffffffffffffe, 1, 0xbff8000000000000
    FCVT_TO_INT "fcvt.l rmm 9.223372036854776e+18", fcvt.l.d, rmm, 0x7fffffffffffffff, 16, 0x43e0000000000000
    FCVT_TO_INT "fcvt.l rmm -9.223372036854776e+18", fcvt.l.d, rmm, 0x8000000000000000, 0, 0xc3e0000000000000
    FCVT_TO_INT "fcvt.wu rmm 4294967295.5", fcvt.wu.d, rmm, 0xffffffffffffffff, 16, 0x41effffffff00000
    FCVT_TO_INT "fcvt.lu rmm 1.8446744073709552e+19", fcvt.lu.d, rmm, 0xffffffffffffffff, 16, 0x43f0000000000000
    FCVT_TO_INT "fcvt.lu rmm -0.9", fcvt.lu.d, rmm, 0x0000000000000000, 16, 0xbfeccccccccccccd
    FCVT_TO_INT "fcvt.w rtz -1.1", fcvt.w.d, rtz, 0xffffffffffffffff, 1, 0xbff199999999999a
    FCVT_TO_INT "fcvt.w rtz -1.0", fcvt.w.d, rtz, 0xffffffffffffffff, 0, 0xbff0000000000000
    FCVT_TO_INT "fcvt.w rtz -0.9", fcvt.w.d, rtz, 0x0000000000000000, 1, 0xbfeccccccccccccd
    FCVT_TO_INT "fcvt.w rtz 0.9", fcvt.w.d, rtz, 0x0000000000000000, 1, 0x3feccccccccccccd
    FCVT_TO_INT "fcvt.w rtz 1.0", fcvt.w.d, rtz, 0x0000000000000001, 0, 0x3ff0000000000000
    FCVT_TO_INT "fcvt.w rtz 1.1", fcvt.w.d, rtz, 0x0000000000000001, 1, 0x3ff199999999999a
    FCVT_TO_INT "fcvt.w rtz -3000000000.0", fcvt.w.d, rtz, 0xffffffff80000000, 16, 0xc1e65a0bc0000000
    FCVT_TO_INT "fcvt.w rtz 3000000000.0", fcvt.w.d, rtz, 0x000000007fffffff, 16, 0x41e65a0bc0000000
    FCVT_TO_INT "fcvt.wu rtz -3.0", fcvt.wu.d, rtz, 0x0000000000000000, 16, 0xc008000000000000
    FCVT_TO_INT "fcvt.wu rtz -1.0", fcvt.wu.d, rtz, 0x0000000000000000, 16, 0xbff0000000000000
    FCVT_TO_INT "fcvt.wu rtz -0.9", fcvt.wu.d, rtz, 0x0000000000000000, 1, 0xbfeccccccccccccd
    FCVT_TO_INT "fcvt.wu rtz 0.9", fcvt.wu.d, rtz, 0x0000000000000000, 1, 0x3feccccccccccccd
    FCVT_TO_INT "fcvt.wu rtz 1.0", fcvt.wu.d, rtz, 0x0000000000000001, 0, 0x3ff0000000000000
    FCVT_TO_INT "fcvt.wu rtz 1.1", fcvt.wu.d, rtz, 0x0000000000000001, 1, 0x3ff199999999999a
    FCVT_TO_INT "fcvt.wu rtz -3000000000.0", fcvt.wu.d, rtz, 0x0000000000000000, 16, 0xc1e65a0bc0000000
    FCVT_TO_INT "fcvt.wu rtz 3000000000.0", fcvt.wu.d, rtz, 0xffffffffb2d05e00, 0, 0x41e65a0bc0000000
    FCVT_TO_INT "fcvt.l rtz -3e+19", fcvt.l.d, rtz, 0x8000000000000000, 16, 0xc3fa055690d9db80
    FCVT_TO_INT "fcvt.l rtz 3e+19", fcvt.l.d, rtz, 0x7fffffffffffffff, 16, 0x43fa055690d9db80
    FCVT_TO_INT "fcvt.lu rtz -3e+19", fcvt.lu.d, rtz, 0x0000000000000000, 16, 0xc3fa055690d9db80
    FCVT_TO_INT "fcvt.lu rtz 3e+19", fcvt.lu.d, rtz, 0xffffffffffffffff, 16, 0x43fa055690d9db80
    FCVT_TO_INT "fcvt.w of NaN", fcvt.w.d, rtz, 0x000000007fffffff, 16, 0x7ff8000000000000
    FCVT_TO_INT "fcvt.l of -inf", fcvt.l.d, rtz, 0x8000000000000000, 16, 0xfff0000000000000
    FOP3 "fmadd is fused: (1+u)(1-u)-1", fmadd.d, rne, 0xb970000000000000, 0, 0x3ff0000000000001, 0x3feffffffffffffe, 0xbff0000000000000
    FOP3 "fmadd 1*2.5+1", fmadd.d, rne, 0x400c000000000000, 0, 0x3ff0000000000000, 0x4004000000000000, 0x3ff0000000000000
    FOP3 "fmsub riscv-tests", fmsub.d, rne, 0x4095360a3d70a3d7, 1, 0xc0934c6666666666, 0xbff199999999999a, 0x3ff199999999999a
    FOP3 "fnmadd riscv-tests", fnmadd.d, rne, 0x4039000000000000, 0, 0x4000000000000000, 0xc028000000000000, 0xbff0000000000000
    FCVT_FORMAT "fcvt.d.s 0.1 is exact", fcvt.d.s, exact, 0x3fb99999a0000000, 0, 0x3dcccccd

    DYNAMIC_ROUNDING d, 1, 0x3ff0000000000000, 0x4008000000000000, 0x3fd5555555555555
    FINISH
