using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;

namespace VirtShell.Tests.Kvm;

[Collection(KvmCollection.Name)]
public class KvmCpuTests
{
    [KvmFact]
    public void Port_writes_and_reads_of_every_width_reach_the_bus()
    {
        using var m = new KvmTestMachine();
        m.Recorder.Answers.Enqueue(0x5A);
        m.Recorder.Answers.Enqueue(0xBEEF);
        m.LoadRealMode("""
            mov al, 0x42
            out 0x80, al
            mov ax, 0x1234
            out 0x80, ax
            mov eax, 0xCAFEF00D
            out 0x80, eax
            in al, 0x80        ; 0x5A from the device
            out 0x80, al
            in ax, 0x80        ; 0xBEEF
            out 0x80, ax
            out 0xf4, al
            """);
        var exit = m.RunToExit();
        Assert.Equal(CpuExitReason.ExitRequested, exit.Reason);
        Assert.Equal([(1, 0x42u), (2, 0x1234u), (4, 0xCAFEF00Du), (1, 0x5Au), (2, 0xBEEFu)], m.Recorder.Writes);
        Assert.True(m.Cpu.IoExits >= 8);
    }

    [KvmFact]
    public void Sse_and_x87_state_the_guest_sets_shows_in_the_cpu_state_and_survives_a_round_trip()
    {
        using var m = new KvmTestMachine();
        // Ring-0 code runs through KVM's instruction emulator on hosts that are VMs, and it knows neither FLDCW nor
        // LDMXCSR: the control words are set from the host below.
        var state = m.LoadRealMode("""
            movups xmm3, [value]
            out 0xf4, al
            movups [0x1000], xmm5
            out 0xf4, al
            align 16
            value: dq 0x0123456789ABCDEF, 0xFEDCBA9876543210
            """);
        state.Cr4 |= 0x200; // OSFXSR: SSE instructions allowed
        m.Cpu.SetState(state);
        var first = m.RunToExit();
        Assert.True(first.Reason == CpuExitReason.ExitRequested, first.Detail);

        var seen = m.Cpu.GetState();
        Assert.Equal(new UInt128(0xFEDCBA9876543210, 0x0123456789ABCDEF), seen.Fpu.Xmm[3]);
        Assert.Equal((0x037F, 0x1F80u), (seen.Fpu.Fcw, seen.Fpu.Mxcsr)); // as after reset
        Assert.Contains("XMM03=fedcba98765432100123456789abcdef", seen.Dump());

        // What was read goes back unchanged (as across a suspend), and a register set from the host reaches the guest.
        seen.Fpu.Xmm[5] = new UInt128(0x1122334455667788, 0x99AABBCCDDEEFF00);
        seen.Fpu.Fcw = 0x027F;
        seen.Fpu.Mxcsr = 0x9FC0;
        m.Cpu.SetState(seen);
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Equal(new byte[] { 0x00, 0xFF, 0xEE, 0xDD, 0xCC, 0xBB, 0xAA, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 }, m.Memory.Read(0x1000, 16));
        var after = m.Cpu.GetState();
        Assert.Equal(seen.Fpu.Xmm, after.Fpu.Xmm);
        Assert.Equal((0x027F, 0x9FC0u), (after.Fpu.Fcw, after.Fpu.Mxcsr));
    }

    [KvmFact]
    public void The_guest_is_not_offered_cmpxchg16b_which_kvms_instruction_emulator_cannot_run()
    {
        using var m = new KvmTestMachine();
        m.LoadRealMode("""
            mov eax, 1
            cpuid
            mov eax, ecx
            out 0x80, eax
            out 0xf4, al
            """);
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Equal(0u, m.Recorder.Writes.Single().Value & 1u << 13);
        Assert.NotEqual(0u, m.Recorder.Writes.Single().Value & 1u << 31); // the hypervisor bit: it is KVM's CPUID
    }

    [KvmFact]
    public void String_io_delivers_every_element_of_a_rep_outs_and_rep_ins()
    {
        using var m = new KvmTestMachine();
        foreach (var v in new uint[] { 0x1111, 0x2222, 0x3333 }) m.Recorder.Answers.Enqueue(v);
        m.LoadRealMode("""
            cld
            mov si, text
            mov dx, 0x80
            mov cx, 5
            rep outsb
            mov di, 0x1000
            mov cx, 3
            rep insw
            mov ax, [0x1004]
            out 0x80, ax
            out 0xf4, al
            text db "KVM!!"
            """);
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Equal("KVM!!"u8.ToArray(), m.Recorder.Writes.Take(5).Select(w => (byte)w.Value).ToArray());
        Assert.Equal((2, 0x3333u), m.Recorder.Writes[5]);
        Assert.Equal(new byte[] { 0x11, 0x11, 0x22, 0x22, 0x33, 0x33 }, m.Memory.Read(0x1000, 6));
    }

    [KvmFact]
    public void Accesses_outside_ram_go_to_the_mmio_bus()
    {
        using var m = new KvmTestMachine();
        var device = new RecordingMmio { Answer = 0x7788 };
        m.Mmio.Register(0xFEB0_0000, 0x1000, device, "test mmio");
        m.LoadRealMode("""
            lgdt [gdt_descriptor]
            mov eax, cr0
            or eax, 1
            mov cr0, eax
            jmp 0x08:pm
            bits 32
            pm:
            mov ax, 0x10
            mov ds, ax
            mov dword [0xFEB00010], 0xA1B2C3D4
            mov ax, [0xFEB00020]
            out 0x80, ax
            out 0xf4, al
            align 8
            gdt: dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
            gdt_descriptor: dw 23
                            dd gdt
            """);
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Equal([(0xFEB0_0010UL, 4, 0xA1B2C3D4UL)], device.Writes);
        Assert.Equal([(0xFEB0_0020UL, 2)], device.Reads);
        Assert.Equal((2, 0x7788u), m.Recorder.Writes.Single());
        Assert.True(m.Cpu.MmioExits >= 2);
    }

    [KvmFact]
    public void A_triple_fault_is_a_shutdown_exit()
    {
        using var m = new KvmTestMachine();
        m.LoadRealMode("""
            cli
            lgdt [gdt_descriptor]
            lidt [no_idt]     ; no interrupt vectors at all: #UD faults, the fault faults, and the CPU shuts down
            mov eax, cr0
            or eax, 1
            mov cr0, eax
            jmp 0x08:pm
            bits 32
            pm:
            ud2
            align 8
            gdt: dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
            gdt_descriptor: dw 23
                            dd gdt
            no_idt: dw 0
                    dd 0
            """);
        var exit = m.RunToExit();
        Assert.True(exit.Reason == CpuExitReason.TripleFault, $"{exit.Reason}: {exit.Detail}");
        Assert.Contains("triple fault", exit.Detail);
    }

    [KvmFact]
    public void Another_thread_gets_a_guest_spinning_with_interrupts_off_out_of_KVM_RUN()
    {
        using var m = new KvmTestMachine();
        m.LoadRealMode("""
            cli
            spin: jmp spin
            """);
        CpuExit? exit = null;
        var thread = new Thread(() => exit = m.Cpu.Run());
        thread.Start();
        Thread.Sleep(200);
        m.Cpu.RequestExit();
        Assert.True(thread.Join(TimeSpan.FromSeconds(5)), "RequestExit did not stop the vCPU");
        Assert.Equal(CpuExitReason.ExitRequested, exit!.Reason);
        Assert.Equal(0x7C01UL, m.Cpu.GetState().Rip);
    }

    [KvmFact]
    public void Another_thread_gets_a_halted_guest_out_of_the_kernel_and_it_runs_on_afterwards()
    {
        using var m = new KvmTestMachine();
        m.LoadRealMode("""
            cli
            hlt
            out 0x80, al
            out 0xf4, al
            """);
        CpuExit? exit = null;
        var thread = new Thread(() => exit = m.Cpu.Run());
        thread.Start();
        Thread.Sleep(200);
        m.Cpu.RequestExit();
        Assert.True(thread.Join(TimeSpan.FromSeconds(5)), "RequestExit did not stop the halted vCPU");
        Assert.Equal(CpuExitReason.ExitRequested, exit!.Reason);
        Assert.Empty(m.Recorder.Writes);

        // Step past the HLT by hand: the same vCPU runs on from the state we give it.
        var state = m.Cpu.GetState();
        Assert.Equal(0x7C02UL, state.Rip);
        m.Cpu.SetState(state);
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Single(m.Recorder.Writes);
    }

    [KvmFact]
    public void A_request_made_before_run_returns_at_once_and_is_consumed()
    {
        using var m = new KvmTestMachine();
        m.LoadRealMode("""
            out 0x80, al
            out 0xf4, al
            """);
        m.Cpu.RequestExit();
        Assert.Equal(CpuExitReason.ExitRequested, m.Cpu.Run().Reason);
        Assert.Empty(m.Recorder.Writes);
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Single(m.Recorder.Writes);
    }

    [KvmFact]
    public void A_port_read_completes_before_a_requested_exit_returns()
    {
        using var m = new KvmTestMachine();
        var stopper = new ReadThenStop(m.Cpu);
        m.Ports.Register(0x90, 1, stopper, "read-then-stop");
        m.LoadRealMode("""
            in al, 0x90       ; the device answers 0x66 and asks the vCPU to stop in the same breath
            spin: jmp spin
            """);
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        var state = m.Cpu.GetState();
        Assert.Equal(0x66UL, state.Rax & 0xFF);
        Assert.Equal(0x7C02UL, state.Rip);
    }

    [KvmFact]
    public void State_set_is_state_got_back()
    {
        using var m = new KvmTestMachine();
        var state = CpuState.RealMode(0x1234, 0x5678);
        state.Rax = 0x1111_2222_3333_4444; state.Rbx = 2; state.Rcx = 3; state.Rdx = 4;
        state.Rsi = 5; state.Rdi = 6; state.Rbp = 7; state.Rsp = 8; state.R8 = 9; state.R15 = 10;
        state.Rflags = 0x202;
        state.Gdtr = new DescriptorTableState { Base = 0x9000, Limit = 0x27 };
        state.Idtr = new DescriptorTableState { Base = 0x0, Limit = 0x3FF };
        state.Fs = SegmentState.Real(0x2000);
        m.Cpu.SetState(state);
        var back = m.Cpu.GetState();
        Assert.Equal(state.Dump(), back.Dump());
        Assert.Equal((state.Rax, state.R8, state.R15), (back.Rax, back.R8, back.R15));
        Assert.Equal(state.Cs, back.Cs);
        Assert.Equal(state.Fs, back.Fs);
    }

    [KvmFact]
    public void A_flat_protected_mode_start_runs_32_bit_code()
    {
        using var m = new KvmTestMachine();
        m.Memory.Write(0x10000, Nasm.Assemble("""
            bits 32
            org 0x10000
            mov eax, 0x89ABCDEF
            out 0x80, eax
            mov eax, [esp]
            out 0x80, eax
            out 0xf4, al
            """));
        m.Memory.Write(0x8000, BitConverter.GetBytes(0xFEEDC0DEu));
        var state = CpuState.RealMode(0, 0);
        state.Cs = SegmentState.Flat32(0x08, code: true);
        state.Ds = state.Es = state.Fs = state.Gs = state.Ss = SegmentState.Flat32(0x10, code: false);
        state.Cr0 = 0x11;
        state.Rip = 0x10000;
        state.Rsp = 0x8000;
        m.Cpu.SetState(state);
        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Equal([(4, 0x89ABCDEFu), (4, 0xFEEDC0DEu)], m.Recorder.Writes);
    }

    private sealed class ReadThenStop(IVirtualCpu cpu) : IPortDevice
    {
        public uint ReadPort(ushort port, int size)
        {
            cpu.RequestExit();
            return 0x66;
        }

        public void WritePort(ushort port, int size, uint value) { }
    }

    private sealed class RecordingMmio : IMmioDevice
    {
        public ulong Answer { get; init; }
        public List<(ulong, int, ulong)> Writes { get; } = [];
        public List<(ulong, int)> Reads { get; } = [];

        public ulong ReadMmio(ulong address, int size)
        {
            Reads.Add((address, size));
            return Answer;
        }

        public void WriteMmio(ulong address, int size, ulong value) => Writes.Add((address, size, value));
    }
}
