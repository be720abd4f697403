# RV64A: LR/SC (success, failure after another store, failure without a reservation) and every AMO, both widths,
# with the old value returned and misaligned operands trapping.
    .include "common.inc"
    .macro TEST_AMO name, inst, width, start, operand, result
    la s0, word
    li t1, \start
    s\width t1, 0(s0)
    li t2, \operand
    \inst t0, t2, (s0)
    CHECK "\name returns the old value", t0, t1
    l\width t0, 0(s0)
    li t3, \result
    CHECK "\name", t0, t3
    .endm
tests:
    TEST_AMO "amoswap.d", amoswap.d, d, 1, 2, 2
    TEST_AMO "amoadd.d", amoadd.d, d, 1, 2, 3
    TEST_AMO "amoxor.d", amoxor.d, d, 3, 5, 6
    TEST_AMO "amoand.d", amoand.d, d, 3, 5, 1
    TEST_AMO "amoor.d", amoor.d, d, 3, 5, 7
    TEST_AMO "amomin.d", amomin.d, d, -1, 1, -1
    TEST_AMO "amomax.d", amomax.d, d, -1, 1, 1
    TEST_AMO "amominu.d", amominu.d, d, -1, 1, 1
    TEST_AMO "amomaxu.d", amomaxu.d, d, -1, 1, -1
    TEST_AMO "amoadd.w", amoadd.w, w, 0x7fffffff, 1, 0xffffffff80000000
    TEST_AMO "amominu.w", amominu.w, w, 0xffffffff80000000, 1, 1
    TEST_AMO "amomax.w", amomax.w, w, 0xffffffff80000000, 1, 1
    TEST_AMO "amoswap.w", amoswap.w, w, 5, -7, -7

    la s0, word
    li t1, 10
    sd t1, 0(s0)
    lr.d t0, (s0)
    li t2, 11
    sc.d t0, t2, (s0)
    li t3, 0
    CHECK "sc.d succeeds", t0, t3
    ld t0, 0(s0)
    CHECK "sc.d stored", t0, t2
    sc.d t0, t2, (s0)
    li t3, 1
    CHECK "sc.d without reservation fails", t0, t3
    lr.w t0, (s0)
    sw zero, 0(s0)
    sc.w t0, t2, (s0)
    li t3, 1
    CHECK "sc.w after a store fails", t0, t3

    EXPECT_TRAP
    addi s1, s0, 4
    amoadd.d t0, t2, (s1)
    TRAPPED "misaligned amo", 6
    EXPECT_TRAP
    lr.d t0, (s1)
    TRAPPED "misaligned lr", 4
    FINISH

    .data
    .align 3
word: .dword 0
