# Sv39 from S-mode, the -v- side of the suite: gigapage and 4 KiB mappings, read-only and user pages, hardware A/D
# updates, SUM and MXR, page faults with stval, and the non-canonical-address check.
    .include "common.inc"
    .equ V, 1
    .equ R, 2
    .equ W, 4
    .equ X, 8
    .equ U, 16
    .equ A, 64
    .equ D, 128
    .macro DROP_TO mode, label
    li t0, 0x1800
    csrc mstatus, t0
    li t0, \mode << 11
    csrs mstatus, t0
    la t0, \label
    csrw mepc, t0
    mret
    .endm
tests:
    # root[2]: VA 0x80000000 → PA 0x80000000, a supervisor RWX gigapage.
    la s0, root
    li t0, (0x80000000 >> 12 << 10) | V | R | W | X | A | D
    sd t0, 16(s0)
    # root[1]: VA 0x40000000 → PA 0x80000000, read-only.
    li t0, (0x80000000 >> 12 << 10) | V | R | A
    sd t0, 8(s0)
    # root[4]: VA 0x100000000 → PA 0x80000000, user RX: where U-mode code runs.
    li t0, (0x80000000 >> 12 << 10) | V | R | X | U | A
    sd t0, 32(s0)
    # root[3] → mid → leaf: VA 0xC0000000 → the page 'data', RW without A and D; VA 0xC0001000 → 'data', user RW.
    la t1, mid
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, V
    sd t1, 24(s0)
    la t1, leaf
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, V
    la t2, mid
    sd t1, 0(t2)
    la t1, data
    srli t1, t1, 12
    slli t1, t1, 10
    ori t2, t1, V | R | W
    la t3, leaf
    sd t2, 0(t3)
    ori t2, t1, V | R | W | U | A | D
    sd t2, 8(t3)
    ori t2, t1, V | X | A      # VA 0xC0002000: execute-only
    sd t2, 16(t3)
    la t1, data
    li t2, 0x5a5a5a5a
    sd t2, 0(t1)

    la t0, root
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma

    EXPECT_TRAP
    DROP_TO 1, s_read
s_read:
    la t1, data
    li t0, 0x40000000
    sub t1, t1, t0           # 'data' through the read-only alias
    ld s1, 0(t1)             # read through the read-only alias
    sd s1, 0(t1)             # store: page fault
    ecall
    li t3, 15
    CHECK "store to a read-only page", s10, t3
    la t0, data
    li t1, 0x40000000
    sub t0, t0, t1
    CHECK "stval is the virtual address", s9, t0
    li t3, 0x5a5a5a5a
    CHECK "read through an alias", s1, t3

    DROP_TO 1, s_ad
s_ad:
    li t0, 0xC0000000
    ld s1, 0(t0)
    ecall
    la t0, leaf
    ld t1, 0(t0)
    andi t1, t1, A | D
    li t3, A
    CHECK "a load sets A", t1, t3
    DROP_TO 1, s_ad2
s_ad2:
    li t0, 0xC0000000
    sd zero, 8(t0)
    ecall
    la t0, leaf
    ld t1, 0(t0)
    andi t1, t1, A | D
    li t3, A | D
    CHECK "a store sets D", t1, t3

    EXPECT_TRAP
    DROP_TO 1, s_user
s_user:
    li t0, 0xC0001000
    ld s1, 0(t0)             # a user page from S without SUM: fault
    ecall
    TRAPPED "user page from S without SUM", 13
    li t0, 1 << 18
    csrs mstatus, t0
    EXPECT_TRAP
    DROP_TO 1, s_sum
s_sum:
    li t0, 0xC0001000
    ld s1, 0(t0)
    ecall
    TRAPPED "user page from S with SUM", 9
    li t0, 1 << 18
    csrc mstatus, t0

    EXPECT_TRAP
    la s7, u_back
    li t0, 0x1800
    csrc mstatus, t0
    la t0, u_super
    li t1, 0x100000000 - 0x80000000
    add t0, t0, t1
    csrw mepc, t0
    mret                     # to U-mode, running through the user alias
u_super:
    li t0, 0xC0000000
    ld s1, 0(t0)             # a supervisor page from U: fault
    ecall                    # back in M-mode at the alias, which M-mode cannot fetch from: s7
u_back:
    TRAPPED "supervisor page from U", 13

    EXPECT_TRAP
    DROP_TO 1, s_xonly
s_xonly:
    li t0, 0xC0002000
    ld s1, 0(t0)
    ecall
    TRAPPED "load from an execute-only page", 13
    li t0, 1 << 19
    csrs mstatus, t0
    EXPECT_TRAP
    DROP_TO 1, s_mxr
s_mxr:
    li t0, 0xC0002000
    ld s1, 0(t0)
    ecall
    TRAPPED "MXR makes it readable", 9
    li t0, 1 << 19
    csrc mstatus, t0

    EXPECT_TRAP
    DROP_TO 1, s_canon
s_canon:
    li t0, 0x0000008000000000 # bit 39 set, bit 38 clear: not canonical
    ld s1, 0(t0)
    ecall
    TRAPPED "non-canonical address", 13

    EXPECT_TRAP
    la s7, s_fetch
    li t1, 0x80000000 - 0x40000000
    sub t0, s7, t1
    li t1, 0x1800
    csrc mstatus, t1
    li t1, 1 << 11
    csrs mstatus, t1
    csrw mepc, t0
    mret                     # to code through the non-executable alias
s_fetch:
    TRAPPED "fetch from a non-executable page", 12
    csrw satp, zero
    FINISH

    .data
    .align 12
root: .space 4096
mid:  .space 4096
leaf: .space 4096
data: .space 4096
