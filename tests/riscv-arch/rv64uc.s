# RV64C: each compressed instruction written out (c.* mnemonics), checked against what its 32-bit form computes.
    .include "common.inc"
    .option rvc
tests:
    c.li a3, -32
    li t3, -32
    CHECK "c.li", a3, t3
    c.li a3, 5
    c.addi a3, -6
    li t3, -1
    CHECK "c.addi", a3, t3
    li a3, 0x7fffffff
    c.addiw a3, 1
    li t3, 0xffffffff80000000
    CHECK "c.addiw", a3, t3
    c.lui a3, 0xfffe1
    li t3, 0xfffffffffffe1000
    CHECK "c.lui", a3, t3
    li a3, 1
    c.slli a3, 63
    li t3, 0x8000000000000000
    CHECK "c.slli", a3, t3
    c.srli a3, 62
    li t3, 2
    CHECK "c.srli", a3, t3
    li a3, -64
    c.srai a3, 4
    li t3, -4
    CHECK "c.srai", a3, t3
    li a3, 0xff
    c.andi a3, -16
    li t3, 0xf0
    CHECK "c.andi", a3, t3
    li a4, 7
    c.mv a3, a4
    CHECK "c.mv", a3, a4
    c.add a3, a4
    li t3, 14
    CHECK "c.add", a3, t3
    c.sub a3, a4
    CHECK "c.sub", a3, a4
    li a3, 0xf0
    li a4, 0x3c
    c.xor a3, a4
    li t3, 0xcc
    CHECK "c.xor", a3, t3
    c.or a3, a4
    li t3, 0xfc
    CHECK "c.or", a3, t3
    c.and a3, a4
    li t3, 0x3c
    CHECK "c.and", a3, t3
    li a3, 0x80000000
    li a4, 1
    c.subw a3, a4
    li t3, 0x7fffffff
    CHECK "c.subw", a3, t3
    c.addw a3, a4
    li t3, 0xffffffff80000000
    CHECK "c.addw", a3, t3

    la s0, buffer
    li a4, 0x1122334455667788
    c.sd a4, 8(s0)
    c.ld a3, 8(s0)
    CHECK "c.sd, c.ld", a3, a4
    c.lw a3, 12(s0)
    li t3, 0x11223344
    CHECK "c.lw", a3, t3
    li a4, -2
    c.sw a4, 4(s0)
    c.lw a3, 4(s0)
    CHECK "c.sw", a3, a4
    mv s1, sp                # sp moves into the buffer: CHECK (which uses the stack) waits until it is back
    la sp, buffer
    c.sdsp a4, 24(sp)
    c.ldsp a3, 24(sp)
    c.swsp a4, 32(sp)
    c.lwsp a5, 32(sp)
    c.addi16sp sp, 64
    c.addi4spn s0, sp, 16
    mv sp, s1
    CHECK "c.sdsp, c.ldsp", a3, a4
    CHECK "c.swsp, c.lwsp", a5, a4
    la t3, buffer + 80
    CHECK "c.addi16sp, c.addi4spn", s0, t3
    la s0, buffer

    li t0, 0x0000000000003ff0
    fmv.d.x f8, t0
    c.fsd f8, 16(s0)
    c.fld f9, 16(s0)
    fmv.x.d a3, f9
    CHECK "c.fsd, c.fld", a3, t0

    li a3, 0
    c.j 1f
    li a3, 1
1:  c.beqz a3, 2f
    li a3, 2
2:  c.bnez a3, 3f
    li a3, 3
3:  li t3, 3
    CHECK "c.j, c.beqz, c.bnez", a3, t3
    la a4, 4f
    c.jr a4
    li a3, 4
4:  CHECK "c.jr", a3, t3
    la a4, 5f
    c.jalr a4
5:  la t3, 5b
    CHECK "c.jalr links", ra, t3

    EXPECT_TRAP
    .2byte 0                # the all-zero parcel is illegal
    TRAPPED "c.unimp", 2
    FINISH

    .data
    .align 4
buffer: .space 128
