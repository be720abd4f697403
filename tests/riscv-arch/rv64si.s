# Machine and supervisor mode: misa, CSR access rules, ecall from each mode, illegal instructions, delegation to
# S-mode, xRET, the counters' enables, the CLINT's timer and software interrupts, and Sstc (menvcfg.STCE, stimecmp).
    .include "common.inc"
    # Runs the code at label in S-mode (mode 1) or U-mode (0) until it ecalls back.
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
    csrr t0, misa
    li t3, 0x800000000014112d
    CHECK "misa is rv64imafdcsu", t0, t3
    csrr t0, mhartid
    li t3, 0
    CHECK "mhartid", t0, t3
    EXPECT_TRAP
    csrw mvendorid, t0
    TRAPPED "write to a read-only CSR", 2
    EXPECT_TRAP
    csrr t0, 0x7c0          # no custom CSRs
    TRAPPED "unknown CSR", 2
    li t0, 0xaaaa
    csrw mscratch, t0
    csrrs t1, mscratch, 0x5
    li t3, 0xaaaa
    CHECK "csrrs returns the old value", t1, t3
    csrrci t1, mscratch, 0x7
    li t3, 0xaaaf
    CHECK "csrrs set the bits", t1, t3
    csrr t1, mscratch
    li t3, 0xaaa8
    CHECK "csrrci cleared them", t1, t3

    EXPECT_TRAP
    ecall
    TRAPPED "ecall from M", 11
    EXPECT_TRAP
    ebreak
    TRAPPED "ebreak", 3
    EXPECT_TRAP
    .word 0xffffffff
    TRAPPED "illegal instruction", 2
    li t3, 0xffffffff
    CHECK "mtval holds the illegal instruction", s9, t3

    EXPECT_TRAP
    DROP_TO 1, in_s
in_s:
    csrr t1, sstatus        # fine in S
    ecall
    TRAPPED "ecall from S", 9
    csrr t0, mstatus
    srli t0, t0, 11
    andi t0, t0, 3
    li t3, 0
    CHECK "mret leaves MPP at U", t0, t3

    EXPECT_TRAP
    DROP_TO 0, in_u
in_u:
    ecall
    TRAPPED "ecall from U", 8

    EXPECT_TRAP
    DROP_TO 0, u_csr
u_csr:
    csrr t0, sstatus        # illegal in U: back in M with cause 2
    ecall
    TRAPPED "S CSR from U", 2

    csrw mcounteren, zero
    EXPECT_TRAP
    DROP_TO 1, s_time
s_time:
    rdtime t0               # mcounteren.TM clear: illegal
    ecall
    TRAPPED "rdtime without mcounteren", 2
    li t0, 2
    csrw mcounteren, t0
    EXPECT_TRAP
    DROP_TO 1, s_time2
s_time2:
    rdtime t0
    ecall
    TRAPPED "rdtime with mcounteren.TM", 9

    # Illegal instructions in S-mode delegated to S-mode's handler.
    la t0, s_handler
    csrw stvec, t0
    li t0, 1 << 2
    csrw medeleg, t0
    li s8, 0
    DROP_TO 1, s_deleg
s_deleg:
    csrr t0, mstatus        # illegal in S, delegated
    ecall
    li t3, 2
    CHECK "delegated trap reached stvec with scause", s8, t3
    csrw medeleg, zero
    csrr t0, sepc
    la t3, s_deleg + 4
    CHECK "sepc (advanced by the handler)", t0, t3

    # CLINT: mtimecmp 1 ms ahead and MTIE on, but mstatus.MIE off: WFI still wakes when the timer is pending, and
    # the interrupt is taken once MIE is set.
    csrci mstatus, 8
    li t0, CLINT + 0xbff8
    ld t1, 0(t0)
    li t2, 10000
    add t1, t1, t2
    li t0, CLINT + 0x4000
    sd t1, 0(t0)
    li s10, 0
    li t0, 1 << 7
    csrw mie, t0
    wfi
    csrsi mstatus, 8
    nop
    csrci mstatus, 8
    li t3, 0x8000000000000007
    CHECK "machine timer interrupt", s10, t3
    li t0, CLINT + 0x4000
    li t1, -1
    sd t1, 0(t0)

    li s10, 0
    csrci mstatus, 8
    li t0, 1 << 3
    csrw mie, t0
    li t0, CLINT
    li t1, 1
    sw t1, 0(t0)
    csrsi mstatus, 8
    nop
    csrci mstatus, 8
    li t0, CLINT
    sw zero, 0(t0)
    li t3, 0x8000000000000003
    CHECK "machine software interrupt", s10, t3

    # A supervisor software interrupt, delegated, taken in S-mode when sstatus.SIE is set.
    li t0, 1 << 1
    csrw mideleg, t0
    csrw mie, t0
    li s8, 0
    DROP_TO 1, s_ssi
s_ssi:
    csrsi sip, 2
    csrsi sstatus, 2
    nop
    csrci sstatus, 2
    ecall
    li t3, 0x8000000000000001
    CHECK "delegated supervisor software interrupt", s8, t3
    csrw mideleg, zero

    # SEIP as the PLIC drives it (the UART's THR-empty interrupt on source 10, enabled for the S-mode context) is not
    # captured into mip by a read-modify-write of mip.
    csrw mie, zero
    li t0, 0xc000000 + 4 * 10
    li t1, 1
    sw t1, 0(t0)
    li t0, 0xc000000 + 0x2080
    li t1, 1 << 10
    sw t1, 0(t0)
    li t0, UART
    li t1, 8
    sb t1, 4(t0)             # MCR.OUT2 gates the UART's interrupt
    li t1, 2
    sb t1, 1(t0)             # IER.THRI: THR is empty, so the line goes high
    csrr t2, mip
    andi t2, t2, 1 << 9
    li t3, 1 << 9
    CHECK "SEIP follows the PLIC", t2, t3
    csrsi mip, 2
    li t0, UART
    sb zero, 1(t0)
    li t0, 0xc000000 + 0x201004
    lw t1, 0(t0)             # claim and complete: the line is low now
    sw t1, 0(t0)
    csrr t2, mip
    andi t2, t2, 1 << 9
    CHECK "csrs mip leaves SEIP to the PLIC", t2, zero
    csrci mip, 2

    # Sstc. The privileged 1.11/1.12 CSRs OpenSBI probes exist; menvcfg has STCE alone.
    csrr t0, mcountinhibit
    csrr t0, menvcfg
    CHECK "menvcfg resets to 0", t0, zero
    li t1, -1
    csrw menvcfg, t1
    csrr t0, menvcfg
    li t3, 0x8000000000000000
    CHECK "menvcfg: only STCE is writable", t0, t3
    csrw menvcfg, zero
    EXPECT_TRAP
    DROP_TO 1, sstc_off
sstc_off:
    csrr t1, stimecmp
    ecall
    TRAPPED "stimecmp from S without menvcfg.STCE is illegal", 2
    li t0, -1
    csrw menvcfg, t0
    li t0, 2
    csrw mcounteren, t0
    EXPECT_TRAP
    DROP_TO 1, sstc_on
sstc_on:
    li t1, -1
    csrw stimecmp, t1
    ecall
    TRAPPED "stimecmp from S with STCE and mcounteren.TM", 9
    csrr t0, stimecmp
    li t3, -1
    CHECK "stimecmp keeps what S wrote", t0, t3
    li t1, 1 << 5
    csrs mip, t1
    csrr t0, mip
    and t0, t0, t1
    CHECK "with STCE, STIP is not writable", t0, zero
    csrw stimecmp, zero
    csrr t0, mip
    and t0, t0, t1
    CHECK "stimecmp in the past makes STIP pending", t0, t1
    li s10, 0
    csrw mie, t1
    csrsi mstatus, 8
    nop
    csrci mstatus, 8
    li t3, 0x8000000000000005
    CHECK "the supervisor timer interrupt from stimecmp", s10, t3
    csrw mie, zero
    csrw menvcfg, zero
    csrw mcounteren, zero
    FINISH

    .align 2
s_handler:
    csrr s8, scause
    bltz s8, 1f
    csrr t5, sepc
    addi t5, t5, 4
    csrw sepc, t5
    sret
1:  csrci sip, 2
    sret
