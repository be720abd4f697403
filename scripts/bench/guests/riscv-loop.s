# The riscv64 MIPS loop: ITERATIONS (given with --defsym) rounds of five integer instructions, then a power-off
# through the virt board's test finisher. Runs as firmware at 0x80000000, on VirtShell and on qemu-system-riscv64.
    .section .text.init
    .globl _start
_start:
    li t0, ITERATIONS
    li t1, 0
1:  addi t1, t1, 1
    xor t2, t1, t0
    add t3, t2, t1
    addi t0, t0, -1
    bnez t0, 1b
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
2:  j 2b
