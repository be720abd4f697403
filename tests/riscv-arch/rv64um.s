# RV64M: products, high products of each signedness, quotients and remainders with the spec's division-by-zero and
# overflow results.
    .include "common.inc"
tests:
    TEST_RR "mul", mul, 0x1200, 0x24, 0x80
    TEST_RR "mul wraps", mul, 0xfffffffffffffffe, 0x7fffffffffffffff, 2
    TEST_RR "mulh", mulh, 0xffffffffffffffff, -1, 1
    TEST_RR "mulh large", mulh, 0x3fffffffffffffff, 0x7fffffffffffffff, 0x7fffffffffffffff
    TEST_RR "mulhu", mulhu, 0xfffffffffffffffe, -1, -1
    TEST_RR "mulhsu", mulhsu, 0xffffffffffffffff, -1, -1
    TEST_RR "mulhsu positive", mulhsu, 0x0000000000000001, 2, 0x8000000000000000
    TEST_RR "mulw", mulw, 0xffffffff80000000, 0x40000000, 2
    TEST_RR "div", div, -3, 20, -6
    TEST_RR "div by zero", div, -1, 20, 0
    TEST_RR "div overflow", div, 0x8000000000000000, 0x8000000000000000, -1
    TEST_RR "divu", divu, 0x7fffffffffffffff, -1, 2
    TEST_RR "divu by zero", divu, -1, 20, 0
    TEST_RR "rem sign of dividend", rem, -2, -20, 6
    TEST_RR "rem by zero", rem, 20, 20, 0
    TEST_RR "rem overflow", rem, 0, 0x8000000000000000, -1
    TEST_RR "remu", remu, 1, -1, 2
    TEST_RR "remu by zero", remu, 7, 7, 0
    TEST_RR "divw", divw, -3, 20, -6
    TEST_RR "divw overflow", divw, 0xffffffff80000000, 0x80000000, -1
    TEST_RR "divuw", divuw, 0x7fffffff, 0xffffffff, 2
    TEST_RR "divuw by zero", divuw, -1, 5, 0
    TEST_RR "remw", remw, -2, -20, 6
    TEST_RR "remw by zero", remw, 0xffffffff80000000, 0x80000000, 0
    TEST_RR "remuw", remuw, 1, 0xffffffff, 2
    FINISH
