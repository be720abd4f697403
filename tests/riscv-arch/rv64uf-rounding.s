# RV64F: rounding in every mode (static rm and dynamic frm) and the exception flags, for single-precision
# arithmetic, square root, FMA and conversions, in the manner of riscv-tests' rv64uf-p-fadd, fdiv, fmadd, fcvt and
# fcvt_w (which check fflags with every result), plus directed rounding, ties, overflow and underflow (tininess after
# rounding) that riscv-tests reaches through its softfloat-generated cases.
    .include "common.inc"
    .macro FLOAD freg, xreg
    fmv.w.x \freg, \xreg
    .endm
    .macro OTHER_FLOAD freg, xreg
    fmv.d.x \freg, \xreg
    .endm
    .macro FRESULT xreg, freg
    fmv.x.w \xreg, \freg
    slli \xreg, \xreg, 32     # a single's bits, without fmv.x.w's sign extension
    srli \xreg, \xreg, 32
    .endm
    .include "rounding.inc"
tests:
    FOP2 "fadd 2.5+1.0", fadd.s, rne, 0x40600000, 0, 0x40200000, 0x3f800000
    FOP2 "fadd -1235.1+1.1", fadd.s, rne, 0xc49a4000, 1, 0xc49a6333, 0x3f8ccccd
    FOP2 "fadd pi+1e-8", fadd.s, rne, 0x40490fdb, 1, 0x40490fdb, 0x322bcc77
    FOP2 "fsub -1235.1-(-1.1)", fsub.s, rne, 0xc49a4000, 1, 0xc49a6333, 0xbf8ccccd
    FOP2 "fmul -1235.1*-1.1", fmul.s, rne, 0x44a9d385, 1, 0xc49a6333, 0xbf8ccccd
    FOP2 "fmul pi*1e-8", fmul.s, rne, 0x3306ee2d, 1, 0x40490fdb, 0x322bcc77
    FOP2 "fdiv pi/e", fdiv.s, rne, 0x3f93eee0, 1, 0x40490fdb, 0x402df854
    FOP2 "fdiv -1234/1235.1", fdiv.s, rne, 0xbf7fc5a2, 1, 0xc49a4000, 0x449a6333
    FOP2 "fdiv pi/1", fdiv.s, rne, 0x40490fdb, 0, 0x40490fdb, 0x3f800000
    FOP1 "fsqrt pi", fsqrt.s, rne, 0x3fe2dfc5, 1, 0x40490fdb
    FOP1 "fsqrt 10000", fsqrt.s, rne, 0x42c80000, 0, 0x461c4000
    FOP1 "fsqrt 171", fsqrt.s, rne, 0x41513a26, 1, 0x432b0000
    FOP2 "fadd rne 1+ulp/4", fadd.s, rne, 0x3f800000, 1, 0x3f800000, 0x33000000
    FOP2 "fadd rne -1-ulp/4", fadd.s, rne, 0xbf800000, 1, 0xbf800000, 0xb3000000
    FOP2 "fadd rne 1+ulp/2 tie", fadd.s, rne, 0x3f800000, 1, 0x3f800000, 0x33800000
    FOP2 "fadd rne odd+ulp/2 tie", fadd.s, rne, 0x3f800002, 1, 0x3f800001, 0x33800000
    FOP2 "fsub rne 1-ulp/8", fsub.s, rne, 0x3f800000, 1, 0x3f800000, 0x33000000
    FOP2 "fdiv rne 1/3", fdiv.s, rne, 0x3eaaaaab, 1, 0x3f800000, 0x40400000
    FOP2 "fdiv rne -2/3", fdiv.s, rne, 0xbf2aaaab, 1, 0xc0000000, 0x40400000
    FOP1 "fsqrt rne 2", fsqrt.s, rne, 0x3fb504f3, 1, 0x40000000
    FOP3 "fmadd rne (1/3)*3-1", fmadd.s, rne, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000
    FOP3 "fnmsub rne -(1+u)^2+1", fnmsub.s, rne, 0xb4800000, 1, 0x3f800001, 0x3f800001, 0x3f800000
    FOP2 "fmul rne max*2 overflows", fmul.s, rne, 0x7f800000, 5, 0x7f7fffff, 0x40000000
    FOP2 "fmul rne -max*1.5 overflows", fmul.s, rne, 0xff800000, 5, 0xff7fffff, 0x3fc00000
    FOP2 "fadd rne max+ulp/2", fadd.s, rne, 0x7f800000, 5, 0x7f7fffff, 0x73000000
    FOP2 "fmul rne minsub/2 underflows", fmul.s, rne, 0x00000000, 3, 0x00000001, 0x3f000000
    FOP2 "fmul rne -minsub*0.75", fmul.s, rne, 0x80000001, 3, 0x80000001, 0x3f400000
    FOP2 "fmul rne minnormal*(1-ulp/2) tiny after rounding", fmul.s, rne, 0x00800000, 3, 0x00800000, 0x3f7fffff
    FOP2 "fdiv rne subnormal quotient", fdiv.s, rne, 0x000000ab, 3, 0x03800000, 0x4a400000
    FCVT_FROM_INT "fcvt from int rne 2^p+1", fcvt.s.w, rne, 0x4b800000, 1, 16777217
    FCVT_FROM_INT "fcvt from int rne -(2^p+3)", fcvt.s.w, rne, 0xcb800002, 1, -16777219
    FCVT_FROM_INT "fcvt.lu rne 2^64-1", fcvt.s.lu, rne, 0x5f800000, 1, 18446744073709551615
    FCVT_TO_INT "fcvt.w rne 2.5", fcvt.w.s, rne, 0x0000000000000002, 1, 0x40200000
    FCVT_TO_INT "fcvt.w rne -2.5", fcvt.w.s, rne, 0xfffffffffffffffe, 1, 0xc0200000
    FCVT_TO_INT "fcvt.wu rne -0.5", fcvt.wu.s, rne, 0x0000000000000000, 1, 0xbf000000
    FCVT_TO_INT "fcvt.w rne 2147483648.0", fcvt.w.s, rne, 0x000000007fffffff, 16, 0x4f000000
    FCVT_TO_INT "fcvt.w rne -2147483648.0", fcvt.w.s, rne, 0xffffffff80000000, 0, 0xcf000000
    FCVT_TO_INT "fcvt.l rne 0.5", fcvt.l.s, rne, 0x0000000000000000, 1, 0x3f000000
    FCVT_TO_INT "fcvt.l rne -1.5", fcvt.l.s, rne, 0xfffffffffffffffe, 1, 0xbfc00000
    FCVT_TO_INT "fcvt.l rne 9.223372036854776e+18", fcvt.l.s, rne, 0x7fffffffffffffff, 16, 0x5f000000
    FCVT_TO_INT "fcvt.l rne -9.223372036854776e+18", fcvt.l.s, rne, 0x8000000000000000, 0, 0xdf000000
    FCVT_TO_INT "fcvt.wu rne 4294967040.0", fcvt.wu.s, rne, 0xffffffffffffff00, 0, 0x4f7fffff
    FCVT_TO_INT "fcvt.lu rne 1.8446744073709552e+19", fcvt.lu.s, rne, 0xffffffffffffffff, 16, 0x5f800000
    FCVT_TO_INT "fcvt.lu rne -0.9", fcvt.lu.s, rne, 0x0000000000000000, 16, 0xbf666666
    FOP2 "fadd rtz 1+ulp/4", fadd.s, rtz, 0x3f800000, 1, 0x3f800000, 0x33000000
    FOP2 "fadd rtz -1-ulp/4", fadd.s, rtz, 0xbf800000, 1, 0xbf800000, 0xb3000000
    FOP2 "fadd rtz 1+ulp/2 tie", fadd.s, rtz, 0x3f800000, 1, 0x3f800000, 0x33800000
    FOP2 "fadd rtz odd+ulp/2 tie", fadd.s, rtz, 0x3f800001, 1, 0x3f800001, 0x33800000
    FOP2 "fsub rtz 1-ulp/8", fsub.s, rtz, 0x3f7fffff, 1, 0x3f800000, 0x33000000
    FOP2 "fdiv rtz 1/3", fdiv.s, rtz, 0x3eaaaaaa, 1, 0x3f800000, 0x40400000
    FOP2 "fdiv rtz -2/3", fdiv.s, rtz, 0xbf2aaaaa, 1, 0xc0000000, 0x40400000
    FOP1 "fsqrt rtz 2", fsqrt.s, rtz, 0x3fb504f3, 1, 0x40000000
    FOP3 "fmadd rtz (1/3)*3-1", fmadd.s, rtz, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000
    FOP3 "fnmsub rtz -(1+u)^2+1", fnmsub.s, rtz, 0xb4800000, 1, 0x3f800001, 0x3f800001, 0x3f800000
    FOP2 "fmul rtz max*2 overflows", fmul.s, rtz, 0x7f7fffff, 5, 0x7f7fffff, 0x40000000
    FOP2 "fmul rtz -max*1.5 overflows", fmul.s, rtz, 0xff7fffff, 5, 0xff7fffff, 0x3fc00000
    FOP2 "fadd rtz max+ulp/2", fadd.s, rtz, 0x7f7fffff, 1, 0x7f7fffff, 0x73000000
    FOP2 "fmul rtz minsub/2 underflows", fmul.s, rtz, 0x00000000, 3, 0x00000001, 0x3f000000
    FOP2 "fmul rtz -minsub*0.75", fmul.s, rtz, 0x80000000, 3, 0x80000001, 0x3f400000
    FOP2 "fmul rtz minnormal*(1-ulp/2) tiny after rounding", fmul.s, rtz, 0x007fffff, 3, 0x00800000, 0x3f7fffff
    FOP2 "fdiv rtz subnormal quotient", fdiv.s, rtz, 0x000000aa, 3, 0x03800000, 0x4a400000
    FCVT_FROM_INT "fcvt from int rtz 2^p+1", fcvt.s.w, rtz, 0x4b800000, 1, 16777217
    FCVT_FROM_INT "fcvt from int rtz -(2^p+3)", fcvt.s.w, rtz, 0xcb800001, 1, -16777219
    FCVT_FROM_INT "fcvt.lu rtz 2^64-1", fcvt.s.lu, rtz, 0x5f7fffff, 1, 18446744073709551615
    FCVT_TO_INT "fcvt.w rtz 2.5", fcvt.w.s, rtz, 0x0000000000000002, 1, 0x40200000
    FCVT_TO_INT "fcvt.w rtz -2.5", fcvt.w.s, rtz, 0xfffffffffffffffe, 1, 0xc0200000
    FCVT_TO_INT "fcvt.wu rtz -0.5", fcvt.wu.s, rtz, 0x0000000000000000, 1, 0xbf000000
    FCVT_TO_INT "fcvt.w rtz 2147483648.0", fcvt.w.s, rtz, 0x000000007fffffff, 16, 0x4f000000
    FCVT_TO_INT "fcvt.w rtz -2147483648.0", fcvt.w.s, rtz, 0xffffffff80000000, 0, 0xcf000000
    FCVT_TO_INT "fcvt.l rtz 0.5", fcvt.l.s, rtz, 0x0000000000000000, 1, 0x3f000000
    FCVT_TO_INT "fcvt.l rtz -1.5", fcvt.l.s, rtz, 0xffffffffffffffff, 1, 0xbfc00000
    FCVT_TO_INT "fcvt.l rtz 9.223372036854776e+18", fcvt.l.s, rtz, 0x7fffffffffffffff, 16, 0x5f000000
    FCVT_TO_INT "fcvt.l rtz -9.223372036854776e+18", fcvt.l.s, rtz, 0x8000000000000000, 0, 0xdf000000
    FCVT_TO_INT "fcvt.wu rtz 4294967040.0", fcvt.wu.s, rtz, 0xffffffffffffff00, 0, 0x4f7fffff
    FCVT_TO_INT "fcvt.lu rtz 1.8446744073709552e+19", fcvt.lu.s, rtz, 0xffffffffffffffff, 16, 0x5f800000
    FCVT_TO_INT "fcvt.lu rtz -0.9", fcvt.lu.s, rtz, 0x0000000000000000, 1, 0xbf666666
    FOP2 "fadd rdn 1+ulp/4", fadd.s, rdn, 0x3f800000, 1, 0x3f800000, 0x33000000
    FOP2 "fadd rdn -1-ulp/4", fadd.s, rdn, 0xbf800001, 1, 0xbf800000, 0xb3000000
    FOP2 "fadd rdn 1+ulp/2 tie", fadd.s, rdn, 0x3f800000, 1, 0x3f800000, 0x33800000
    FOP2 "fadd rdn odd+ulp/2 tie", fadd.s, rdn, 0x3f800001, 1, 0x3f800001, 0x33800000
    FOP2 "fsub rdn 1-ulp/8", fsub.s, rdn, 0x3f7fffff, 1, 0x3f800000, 0x33000000
    FOP2 "fdiv rdn 1/3", fdiv.s, rdn, 0x3eaaaaaa, 1, 0x3f800000, 0x40400000
    FOP2 "fdiv rdn -2/3", fdiv.s, rdn, 0xbf2aaaab, 1, 0xc0000000, 0x40400000
    FOP1 "fsqrt rdn 2", fsqrt.s, rdn, 0x3fb504f3, 1, 0x40000000
    FOP3 "fmadd rdn (1/3)*3-1", fmadd.s, rdn, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000
    FOP3 "fnmsub rdn -(1+u)^2+1", fnmsub.s, rdn, 0xb4800001, 1, 0x3f800001, 0x3f800001, 0x3f800000
    FOP2 "fmul rdn max*2 overflows", fmul.s, rdn, 0x7f7fffff, 5, 0x7f7fffff, 0x40000000
    FOP2 "fmul rdn -max*1.5 overflows", fmul.s, rdn, 0xff800000, 5, 0xff7fffff, 0x3fc00000
    FOP2 "fadd rdn max+ulp/2", fadd.s, rdn, 0x7f7fffff, 1, 0x7f7fffff, 0x73000000
    FOP2 "fmul rdn minsub/2 underflows", fmul.s, rdn, 0x00000000, 3, 0x00000001, 0x3f000000
    FOP2 "fmul rdn -minsub*0.75", fmul.s, rdn, 0x80000001, 3, 0x80000001, 0x3f400000
    FOP2 "fmul rdn minnormal*(1-ulp/2) tiny after rounding", fmul.s, rdn, 0x007fffff, 3, 0x00800000, 0x3f7fffff
    FOP2 "fdiv rdn subnormal quotient", fdiv.s, rdn, 0x000000aa, 3, 0x03800000, 0x4a400000
    FCVT_FROM_INT "fcvt from int rdn 2^p+1", fcvt.s.w, rdn, 0x4b800000, 1, 16777217
    FCVT_FROM_INT "fcvt from int rdn -(2^p+3)", fcvt.s.w, rdn, 0xcb800002, 1, -16777219
    FCVT_FROM_INT "fcvt.lu rdn 2^64-1", fcvt.s.lu, rdn, 0x5f7fffff, 1, 18446744073709551615
    FCVT_TO_INT "fcvt.w rdn 2.5", fcvt.w.s, rdn, 0x0000000000000002, 1, 0x40200000
    FCVT_TO_INT "fcvt.w rdn -2.5", fcvt.w.s, rdn, 0xfffffffffffffffd, 1, 0xc0200000
    FCVT_TO_INT "fcvt.wu rdn -0.5", fcvt.wu.s, rdn, 0x0000000000000000, 16, 0xbf000000
    FCVT_TO_INT "fcvt.w rdn 2147483648.0", fcvt.w.s, rdn, 0x000000007fffffff, 16, 0x4f000000
    FCVT_TO_INT "fcvt.w rdn -2147483648.0", fcvt.w.s, rdn, 0xffffffff80000000, 0, 0xcf000000
    FCVT_TO_INT "fcvt.l rdn 0.5", fcvt.l.s, rdn, 0x0000000000000000, 1, 0x3f000000
    FCVT_TO_INT "fcvt.l rdn -1.5", fcvt.l.s, rdn, 0xfffffffffffffffe, 1, 0xbfc00000
    FCVT_TO_INT "fcvt.l rdn 9.223372036854776e+18", fcvt.l.s, rdn, 0x7fffffffffffffff, 16, 0x5f000000
    FCVT_TO_INT "fcvt.l rdn -9.223372036854776e+18", fcvt.l.s, rdn, 0x8000000000000000, 0, 0xdf000000
    FCVT_TO_INT "fcvt.wu rdn 4294967040.0", fcvt.wu.s, rdn, 0xffffffffffffff00, 0, 0x4f7fffff
    FCVT_TO_INT "fcvt.lu rdn 1.8446744073709552e+19", fcvt.lu.s, rdn, 0xffffffffffffffff, 16, 0x5f800000
    FCVT_TO_INT "fcvt.lu rdn -0.9", fcvt.lu.s, rdn, 0x0000000000000000, 16, 0xbf666666
    FOP2 "fadd rup 1+ulp/4", fadd.s, rup, 0x3f800001, 1, 0x3f800000, 0x33000000
    FOP2 "fadd rup -1-ulp/4", fadd.s, rup, 0xbf800000, 1, 0xbf800000, 0xb3000000
    FOP2 "fadd rup 1+ulp/2 tie", fadd.s, rup, 0x3f800001, 1, 0x3f800000, 0x33800000
    FOP2 "fadd rup odd+ulp/2 tie", fadd.s, rup, 0x3f800002, 1, 0x3f800001, 0x33800000
    FOP2 "fsub rup 1-ulp/8", fsub.s, rup, 0x3f800000, 1, 0x3f800000, 0x33000000
    FOP2 "fdiv rup 1/3", fdiv.s, rup, 0x3eaaaaab, 1, 0x3f800000, 0x40400000
    FOP2 "fdiv rup -2/3", fdiv.s, rup, 0xbf2aaaaa, 1, 0xc0000000, 0x40400000
    FOP1 "fsqrt rup 2", fsqrt.s, rup, 0x3fb504f4, 1, 0x40000000
    FOP3 "fmadd rup (1/3)*3-1", fmadd.s, rup, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000
    FOP3 "fnmsub rup -(1+u)^2+1", fnmsub.s, rup, 0xb4800000, 1, 0x3f800001, 0x3f800001, 0x3f800000
    FOP2 "fmul rup max*2 overflows", fmul.s, rup, 0x7f800000, 5, 0x7f7fffff, 0x40000000
    FOP2 "fmul rup -max*1.5 overflows", fmul.s, rup, 0xff7fffff, 5, 0xff7fffff, 0x3fc00000
    FOP2 "fadd rup max+ulp/2", fadd.s, rup, 0x7f800000, 5, 0x7f7fffff, 0x73000000
    FOP2 "fmul rup minsub/2 underflows", fmul.s, rup, 0x00000001, 3, 0x00000001, 0x3f000000
    FOP2 "fmul rup -minsub*0.75", fmul.s, rup, 0x80000000, 3, 0x80000001, 0x3f400000
    FOP2 "fmul rup minnormal*(1-ulp/2) tiny after rounding", fmul.s, rup, 0x00800000, 3, 0x00800000, 0x3f7fffff
    FOP2 "fdiv rup subnormal quotient", fdiv.s, rup, 0x000000ab, 3, 0x03800000, 0x4a400000
    FCVT_FROM_INT "fcvt from int rup 2^p+1", fcvt.s.w, rup, 0x4b800001, 1, 16777217
    FCVT_FROM_INT "fcvt from int rup -(2^p+3)", fcvt.s.w, rup, 0xcb800001, 1, -16777219
    FCVT_FROM_INT "fcvt.lu rup 2^64-1", fcvt.s.lu, rup, 0x5f800000, 1, 18446744073709551615
    FCVT_TO_INT "fcvt.w rup 2.5", fcvt.w.s, rup, 0x0000000000000003, 1, 0x40200000
    FCVT_TO_INT "fcvt.w rup -2.5", fcvt.w.s, rup, 0xfffffffffffffffe, 1, 0xc0200000
    FCVT_TO_INT "fcvt.wu rup -0.5", fcvt.wu.s, rup, 0x0000000000000000, 1, 0xbf000000
    FCVT_TO_INT "fcvt.w rup 2147483648.0", fcvt.w.s, rup, 0x000000007fffffff, 16, 0x4f000000
    FCVT_TO_INT "fcvt.w rup -2147483648.0", fcvt.w.s, rup, 0xffffffff80000000, 0, 0xcf000000
    FCVT_TO_INT "fcvt.l rup 0.5", fcvt.l.s, rup, 0x0000000000000001, 1, 0x3f000000
    FCVT_TO_INT "fcvt.l rup -1.5", fcvt.l.s, rup, 0xffffffffffffffff, 1, 0xbfc00000
    FCVT_TO_INT "fcvt.l rup 9.223372036854776e+18", fcvt.l.s, rup, 0x7fffffffffffffff, 16, 0x5f000000
    FCVT_TO_INT "fcvt.l rup -9.223372036854776e+18", fcvt.l.s, rup, 0x8000000000000000, 0, 0xdf000000
    FCVT_TO_INT "fcvt.wu rup 4294967040.0", fcvt.wu.s, rup, 0xffffffffffffff00, 0, 0x4f7fffff
    FCVT_TO_INT "fcvt.lu rup 1.8446744073709552e+19", fcvt.lu.s, rup, 0xffffffffffffffff, 16, 0x5f800000
    FCVT_TO_INT "fcvt.lu rup -0.9", fcvt.lu.s, rup, 0x0000000000000000, 1, 0xbf666666
    FOP2 "fadd rmm 1+ulp/4", fadd.s, rmm, 0x3f800000, 1, 0x3f800000, 0x33000000
    FOP2 "fadd rmm -1-ulp/4", fadd.s, rmm, 0xbf800000, 1, 0xbf800000, 0xb3000000
    FOP2 "fadd rmm 1+ulp/2 tie", fadd.s, rmm, 0x3f800001, 1, 0x3f800000, 0x33800000
    FOP2 "fadd rmm odd+ulp/2 tie", fadd.s, rmm, 0x3f800002, 1, 0x3f800001, 0x33800000
    FOP2 "fsub rmm 1-ulp/8", fsub.s, rmm, 0x3f800000, 1, 0x3f800000, 0x33000000
    FOP2 "fdiv rmm 1/3", fdiv.s, rmm, 0x3eaaaaab, 1, 0x3f800000, 0x40400000
    FOP2 "fdiv rmm -2/3", fdiv.s, rmm, 0xbf2aaaab, 1, 0xc0000000, 0x40400000
    FOP1 "fsqrt rmm 2", fsqrt.s, rmm, 0x3fb504f3, 1, 0x40000000
    FOP3 "fmadd rmm (1/3)*3-1", fmadd.s, rmm, 0x33000000, 0, 0x3eaaaaab, 0x40400000, 0xbf800000
    FOP3 "fnmsub rmm -(1+u)^2+1", fnmsub.s, rmm, 0xb4800001, 1, 0x3f800001, 0x3f800001, 0x3f800000
    FOP2 "fmul rmm max*2 overflows", fmul.s, rmm, 0x7f800000, 5, 0x7f7fffff, 0x40000000
    FOP2 "fmul rmm -max*1.5 overflows", fmul.s, rmm, 0xff800000, 5, 0xff7fffff, 0x3fc00000
    FOP2 "fadd rmm max+ulp/2", fadd.s, rmm, 0x7f800000, 5, 0x7f7fffff, 0x73000000
    FOP2 "fmul rmm minsub/2 underflows", fmul.s, rmm, 0x00000001, 3, 0x00000001, 0x3f000000
    FOP2 "fmul rmm -minsub*0.75", fmul.s, rmm, 0x80000001, 3, 0x80000001, 0x3f400000
    FOP2 "fmul rmm minnormal*(1-ulp/2) tiny after rounding", fmul.s, rmm, 0x00800000, 3, 0x00800000, 0x3f7fffff
    FOP2 "fdiv rmm subnormal quotient", fdiv.s, rmm, 0x000000ab, 3, 0x03800000, 0x4a400000
    FCVT_FROM_INT "fcvt from int rmm 2^p+1", fcvt.s.w, rmm, 0x4b800001, 1, 16777217
    FCVT_FROM_INT "fcvt from int rmm -(2^p+3)", fcvt.s.w, rmm, 0xcb800002, 1, -16777219
    FCVT_FROM_INT "fcvt.lu rmm 2^64-1", fcvt.s.lu, rmm, 0x5f800000, 1, 18446744073709551615
    FCVT_TO_INT "fcvt.w rmm 2.5", fcvt.w.s, rmm, 0x0000000000000003, 1, 0x40200000
    FCVT_TO_INT "fcvt.w rmm -2.5", fcvt.w.s, rmm, 0xfffffffffffffffd, 1, 0xc0200000
    FCVT_TO_INT "fcvt.wu rmm -0.5", fcvt.wu.s, rmm, 0x0000000000000000, 16, 0xbf000000
    FCVT_TO_INT "fcvt.w rmm 2147483648.0", fcvt.w.s, rmm, 0x000000007fffffff, 16, 0x4f000000
    FCVT_TO_INT "fcvt.w rmm -2147483648.0", fcvt.w.s, rmm, 0xffffffff80000000, 0, 0xcf000000
    FCVT_TO_INT "fcvt.l rmm 0.5", fcvt.l.s, rmm, 0x0000000000000001, 1, 0x3f000000
    FCVT_TO_INT "fcvt.l rmm -1.5", fcvt.l.s, rmm, 0xfffffffffffffffe, 1, 0xbfc00000
    FCVT_TO_INT "fcvt.l rmm 9.223372036854776e+18", fcvt.l.s, rmm, 0x7fffffffffffffff, 16, 0x5f000000
    FCVT_TO_INT "fcvt.l rmm -9.223372036854776e+18", fcvt.l.s, rmm, 0x8000000000000000, 0, 0xdf000000
    FCVT_TO_INT "fcvt.wu rmm 4294967040.0", fcvt.wu.s, rmm, 0xffffffffffffff00, 0, 0x4f7fffff
    FCVT_TO_INT "fcvt.lu rmm 1.8446744073709552e+19", fcvt.lu.s, rmm, 0xffffffffffffffff, 16, 0x5f800000
    FCVT_TO_INT "fcvt.lu rmm -0.9", fcvt.lu.s, rmm, 0x0000000000000000, 16, 0xbf666666
    FCVT_TO_INT "fcvt.w rtz -1.1", fcvt.w.s, rtz, 0xffffffffffffffff, 1, 0xbf8ccccd
    FCVT_TO_INT "fcvt.w rtz -1.0", fcvt.w.s, rtz, 0xffffffffffffffff, 0, 0xbf800000
    FCVT_TO_INT "fcvt.w rtz -0.9", fcvt.w.s, rtz, 0x0000000000000000, 1, 0xbf666666
    FCVT_TO_INT "fcvt.w rtz 0.9", fcvt.w.s, rtz, 0x0000000000000000, 1, 0x3f666666
    FCVT_TO_INT "fcvt.w rtz 1.0", fcvt.w.s, rtz, 0x0000000000000001, 0, 0x3f800000
    FCVT_TO_INT "fcvt.w rtz 1.1", fcvt.w.s, rtz, 0x0000000000000001, 1, 0x3f8ccccd
    FCVT_TO_INT "fcvt.w rtz -3000000000.0", fcvt.w.s, rtz, 0xffffffff80000000, 16, 0xcf32d05e
    FCVT_TO_INT "fcvt.w rtz 3000000000.0", fcvt.w.s, rtz, 0x000000007fffffff, 16, 0x4f32d05e
    FCVT_TO_INT "fcvt.wu rtz -3.0", fcvt.wu.s, rtz, 0x0000000000000000, 16, 0xc0400000
    FCVT_TO_INT "fcvt.wu rtz -1.0", fcvt.wu.s, rtz, 0x0000000000000000, 16, 0xbf800000
    FCVT_TO_INT "fcvt.wu rtz -0.9", fcvt.wu.s, rtz, 0x0000000000000000, 1, 0xbf666666
    FCVT_TO_INT "fcvt.wu rtz 0.9", fcvt.wu.s, rtz, 0x0000000000000000, 1, 0x3f666666
    FCVT_TO_INT "fcvt.wu rtz 1.0", fcvt.wu.s, rtz, 0x0000000000000001, 0, 0x3f800000
    FCVT_TO_INT "fcvt.wu rtz 1.1", fcvt.wu.s, rtz, 0x0000000000000001, 1, 0x3f8ccccd
    FCVT_TO_INT "fcvt.wu rtz -3000000000.0", fcvt.wu.s, rtz, 0x0000000000000000, 16, 0xcf32d05e
    FCVT_TO_INT "fcvt.wu rtz 3000000000.0", fcvt.wu.s, rtz, 0xffffffffb2d05e00, 0, 0x4f32d05e
    FCVT_TO_INT "fcvt.l rtz -3e+19", fcvt.l.s, rtz, 0x8000000000000000, 16, 0xdfd02ab5
    FCVT_TO_INT "fcvt.l rtz 3e+19", fcvt.l.s, rtz, 0x7fffffffffffffff, 16, 0x5fd02ab5
    FCVT_TO_INT "fcvt.lu rtz -3e+19", fcvt.lu.s, rtz, 0x0000000000000000, 16, 0xdfd02ab5
    FCVT_TO_INT "fcvt.lu rtz 3e+19", fcvt.lu.s, rtz, 0xffffffffffffffff, 16, 0x5fd02ab5
    FCVT_TO_INT "fcvt.w of NaN", fcvt.w.s, rtz, 0x000000007fffffff, 16, 0x7fc00000
    FCVT_TO_INT "fcvt.l of -inf", fcvt.l.s, rtz, 0x8000000000000000, 16, 0xff800000
    FOP3 "fmadd is fused: (1+u)(1-u)-1", fmadd.s, rne, 0xa8800000, 0, 0x3f800001, 0x3f7ffffe, 0xbf800000
    FOP3 "fmadd 1*2.5+1", fmadd.s, rne, 0x40600000, 0, 0x3f800000, 0x40200000, 0x3f800000
    FOP3 "fmsub riscv-tests", fmsub.s, rne, 0x44a9b052, 1, 0xc49a6333, 0xbf8ccccd, 0x3f8ccccd
    FOP3 "fnmadd riscv-tests", fnmadd.s, rne, 0x41c80000, 0, 0x40000000, 0xc1400000, 0xbf800000
    FCVT_FORMAT "fcvt.s.d rne 1+2^-30", fcvt.s.d, rne, 0x3f800000, 1, 0x3ff0000000400000
    FCVT_FORMAT "fcvt.s.d rne -1e300 overflows", fcvt.s.d, rne, 0xff800000, 5, 0xfe37e43c8800759c
    FCVT_FORMAT "fcvt.s.d rne tiny", fcvt.s.d, rne, 0x00000200, 3, 0x3730000100000000
    FCVT_FORMAT "fcvt.s.d rtz 1+2^-30", fcvt.s.d, rtz, 0x3f800000, 1, 0x3ff0000000400000
    FCVT_FORMAT "fcvt.s.d rtz -1e300 overflows", fcvt.s.d, rtz, 0xff7fffff, 5, 0xfe37e43c8800759c
    FCVT_FORMAT "fcvt.s.d rtz tiny", fcvt.s.d, rtz, 0x00000200, 3, 0x3730000100000000
    FCVT_FORMAT "fcvt.s.d rdn 1+2^-30", fcvt.s.d, rdn, 0x3f800000, 1, 0x3ff0000000400000
    FCVT_FORMAT "fcvt.s.d rdn -1e300 overflows", fcvt.s.d, rdn, 0xff800000, 5, 0xfe37e43c8800759c
    FCVT_FORMAT "fcvt.s.d rdn tiny", fcvt.s.d, rdn, 0x00000200, 3, 0x3730000100000000
    FCVT_FORMAT "fcvt.s.d rup 1+2^-30", fcvt.s.d, rup, 0x3f800001, 1, 0x3ff0000000400000
    FCVT_FORMAT "fcvt.s.d rup -1e300 overflows", fcvt.s.d, rup, 0xff7fffff, 5, 0xfe37e43c8800759c
    FCVT_FORMAT "fcvt.s.d rup tiny", fcvt.s.d, rup, 0x00000201, 3, 0x3730000100000000
    FCVT_FORMAT "fcvt.s.d rmm 1+2^-30", fcvt.s.d, rmm, 0x3f800000, 1, 0x3ff0000000400000
    FCVT_FORMAT "fcvt.s.d rmm -1e300 overflows", fcvt.s.d, rmm, 0xff800000, 5, 0xfe37e43c8800759c
    FCVT_FORMAT "fcvt.s.d rmm tiny", fcvt.s.d, rmm, 0x00000200, 3, 0x3730000100000000

    DYNAMIC_ROUNDING s, 0, 0x3f800000, 0x40400000, 0x3eaaaaaa
    FINISH
