# RV64I: arithmetic, logic, shifts, compares, LUI/AUIPC, loads and stores of every width, branches, jumps.
    .include "common.inc"
tests:
    TEST_RR "add", add, 0x0000000080000000, 0x7fffffff, 1
    TEST_RR "add wraps", add, 0, -1, 1
    TEST_RR "sub", sub, -3, 2, 5
    TEST_RR "sll", sll, 0x8000000000000000, 1, 63
    TEST_RR "sll uses 6 bits", sll, 2, 1, 65
    TEST_RR "srl", srl, 0x0000000000000001, 0x8000000000000000, 63
    TEST_RR "sra", sra, -1, 0x8000000000000000, 63
    TEST_RR "slt signed", slt, 1, -1, 0
    TEST_RR "sltu unsigned", sltu, 0, -1, 0
    TEST_RR "xor", xor, 0xf00ff00f, 0xff00ff00, 0x0f0f0f0f
    TEST_RR "or", or, 0xff0fff0f, 0xff00ff00, 0x0f0f0f0f
    TEST_RR "and", and, 0x0f000f00, 0xff00ff00, 0x0f0f0f0f
    TEST_RI "addi negative", addi, 0x7ff, 0x800, -1
    TEST_RI "slti", slti, 1, -2, -1
    TEST_RI "sltiu sign-extended imm", sltiu, 1, 5, -1
    TEST_RI "xori -1 is not", xori, ~0x1234, 0x1234, -1
    TEST_RI "ori", ori, 0x7ff, 0x700, 0xff
    TEST_RI "andi", andi, 0x0f0, 0xff0, 0x0ff
    TEST_RI "slli 63", slli, 0x8000000000000000, 1, 63
    TEST_RI "srli 32", srli, 0xffffffff, -1, 32
    TEST_RI "srai 32", srai, -1, 0xffffffff00000000, 32
    TEST_RR "addw sign-extends", addw, 0xffffffff80000000, 0x7fffffff, 1
    TEST_RR "subw", subw, 0xffffffffffffffff, 0x100000000, 1
    TEST_RR "sllw", sllw, 0xffffffff80000000, 1, 31
    TEST_RR "srlw", srlw, 0x0000000000000001, 0x80000000, 31
    TEST_RR "sraw", sraw, 0xffffffffffffffff, 0x80000000, 31
    TEST_RI "addiw", addiw, 0xffffffff80000000, 0x7fffffff, 1
    TEST_RI "slliw", slliw, 0xffffffff80000000, 1, 31
    TEST_RI "srliw", srliw, 1, 0xffffffff80000000, 31
    TEST_RI "sraiw", sraiw, -1, 0x80000000, 31

    lui t0, 0x80000
    li t3, 0xffffffff80000000
    CHECK "lui sign-extends", t0, t3
1:  auipc t0, 0
    la t3, 1b
    CHECK "auipc", t0, t3

    la s0, scratch
    li t1, 0x8877665544332211
    sd t1, 0(s0)
    lb t0, 7(s0)
    li t3, 0xffffffffffffff88
    CHECK "lb sign-extends", t0, t3
    lbu t0, 7(s0)
    li t3, 0x88
    CHECK "lbu", t0, t3
    lh t0, 6(s0)
    li t3, 0xffffffffffff8877
    CHECK "lh", t0, t3
    lhu t0, 6(s0)
    li t3, 0x8877
    CHECK "lhu", t0, t3
    lw t0, 4(s0)
    li t3, 0xffffffff88776655
    CHECK "lw", t0, t3
    lwu t0, 4(s0)
    li t3, 0x88776655
    CHECK "lwu", t0, t3
    ld t0, 0(s0)
    CHECK "ld", t0, t1
    li t1, 0xaa
    sb t1, 1(s0)
    li t1, 0xbbcc
    sh t1, 2(s0)
    li t1, 0xdeadbeef
    sw t1, 8(s0)
    ld t0, 0(s0)
    li t3, 0x88776655bbccaa11
    CHECK "sb, sh", t0, t3
    lwu t0, 8(s0)
    li t3, 0xdeadbeef
    CHECK "sw", t0, t3
    li t1, 0x0102030405060708
    sd t1, 17(s0)
    ld t0, 17(s0)
    CHECK "misaligned sd and ld", t0, t1
    li t2, 4094
    add s1, s0, t2
    sw t1, 0(s1)
    lwu t0, 0(s1)
    li t3, 0x05060708
    CHECK "misaligned sw across a page", t0, t3

    li t0, 0
    li t1, 1
    li t2, -1
    beq t1, t1, 2f
    ori t0, t0, 1
2:  bne t1, t1, 3f
    ori t0, t0, 2
3:  blt t2, t1, 4f
    ori t0, t0, 4
4:  bltu t2, t1, 5f
    ori t0, t0, 8
5:  bge t1, t2, 6f
    ori t0, t0, 16
6:  bgeu t1, t2, 7f
    ori t0, t0, 32
7:  li t3, 2 | 8 | 32
    CHECK "branches taken and not", t0, t3

    jal t0, 8f
8:  la t3, 8b
    CHECK "jal links the next pc", t0, t3
    la t1, 9f
    jalr t0, 1(t1)        # the low bit of the target is dropped
    nop
9:  li t0, 1
    li t3, 1
    CHECK "jalr clears bit 0", t0, t3
    FINISH

    .data
scratch: .space 8192
