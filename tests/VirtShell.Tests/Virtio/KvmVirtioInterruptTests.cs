using System.Buffers.Binary;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Cpu;
using VirtShell.Tests.Kvm;
using Xunit;

namespace VirtShell.Tests.Virtio;

/// <summary>
/// A used-buffer interrupt from a virtio-mmio device reaches a KVM guest through the in-kernel PIC: the guest asks
/// virtio-rng for bytes, waits in HLT, and its handler reads and acknowledges InterruptStatus.
/// </summary>
[Collection(KvmCollection.Name)]
public sealed class KvmVirtioInterruptTests
{
    private const uint Mmio = 0xD000_0000, Isr = 0x8200, Idt = 0x3000, Seen = 0x500, Random = 0x20000;
    private const int Irq = 5, Vector = 0x20 + Irq;

    [KvmFact]
    public void UsedBufferInterrupt_WakesTheHaltedGuest_AndIsAcknowledged()
    {
        using var m = new KvmTestMachine(0x10_0000);
        var rng = new VirtioRng("virtioRng", m.Memory, _ => { });
        m.Mmio.Register(Mmio, VirtioMmioTransport.WindowSize, new VirtioMmioTransport(rng, Mmio, Irq, m.Vm.Interrupts), "virtioRng");

        // A flat GDT at 0 (code 0x08, data 0x10), and an interrupt gate for the PIC's IRQ 5 vector.
        var gdt = m.Memory.GetSpan(0, 24);
        gdt.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(gdt[8..], 0x00CF_9A00_0000_FFFF);
        BinaryPrimitives.WriteUInt64LittleEndian(gdt[16..], 0x00CF_9200_0000_FFFF);
        var gate = m.Memory.GetSpan(Idt + Vector * 8, 8);
        BinaryPrimitives.WriteUInt64LittleEndian(gate, (ulong)(Isr & 0xFFFF) | 0x08UL << 16 | 0x8E00UL << 32 | (ulong)(Isr >> 16) << 48);
        m.Memory.Write(0x8000, Nasm.Assemble($$"""
            bits 32
            org 0x8000
                mov al, 0x11        ; remap the PIC: master 0x20, slave 0x28
                out 0x20, al
                out 0xA0, al
                mov al, 0x20
                out 0x21, al
                mov al, 0x28
                out 0xA1, al
                mov al, 4
                out 0x21, al
                mov al, 2
                out 0xA1, al
                mov al, 1
                out 0x21, al
                out 0xA1, al
                mov al, ~(1 << {{Irq}})
                out 0x21, al
                mov al, 0xFF
                out 0xA1, al

                mov ebx, {{Mmio}}
                mov dword [ebx + 0x70], 0
                mov dword [ebx + 0x70], 3
                mov dword [ebx + 0x24], 1
                mov dword [ebx + 0x20], 1       ; VIRTIO_F_VERSION_1
                mov dword [ebx + 0x70], 11
                mov dword [ebx + 0x30], 0
                mov dword [ebx + 0x38], 8
                mov dword [ebx + 0x80], 0x10000
                mov dword [ebx + 0x90], 0x11000
                mov dword [ebx + 0xa0], 0x12000
                mov dword [ebx + 0x44], 1
                mov dword [ebx + 0x70], 15

                mov dword [0x10000], {{Random}} ; descriptor 0: 16 device-writable bytes
                mov dword [0x10004], 0
                mov dword [0x10008], 16
                mov dword [0x1000C], 2
                mov word [0x11004], 0
                mov word [0x11002], 1
                mov dword [ebx + 0x50], 0       ; notify: the device answers and raises IRQ 5 now
                sti
            idle:
                hlt
                jmp idle

                times {{Isr - 0x8000}} - ($ - $$) db 0x90
            isr:
                mov eax, [ebx + 0x60]           ; InterruptStatus
                mov [ebx + 0x64], eax           ; InterruptACK
                mov [{{Seen}}], eax
                mov al, 0x20
                out 0x20, al
                out 0xF4, al                    ; stop the test machine
                iret
            """));
        var state = CpuState.RealMode(0, 0);
        state.Cs = SegmentState.Flat32(0x08, code: true);
        state.Ds = state.Es = state.Fs = state.Gs = state.Ss = SegmentState.Flat32(0x10, code: false);
        state.Cr0 = 0x11;
        state.Rip = 0x8000;
        state.Rsp = 0x7000;
        state.Gdtr = new DescriptorTableState { Base = 0, Limit = 23 };
        state.Idtr = new DescriptorTableState { Base = Idt, Limit = 0x7FF };
        m.Cpu.SetState(state);

        Assert.Equal(CpuExitReason.ExitRequested, m.RunToExit().Reason);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(m.Memory.GetSpan(Seen, 4)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(m.Memory.GetSpan(0x12002, 2))); // used index
        Assert.Equal(16u, BinaryPrimitives.ReadUInt32LittleEndian(m.Memory.GetSpan(0x12008, 4))); // bytes written
        Assert.Equal(0u, (uint)m.Mmio.Read(Mmio + 0x60, 4));
        rng.Dispose();
    }
}
