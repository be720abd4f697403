using System.Buffers.Binary;
using VirtShell.Cpu.Kvm;
using VirtShell.Engine.State;

namespace VirtShell.Tests.Kvm;

/// <summary>
/// The KVM parts of a saved state (the vCPU's extras after CpuState, the in-kernel chipset) written and read back,
/// and damaged or truncated input refused by name, all without /dev/kvm: the ioctls only fill these structures.
/// </summary>
public sealed class KvmStateSectionTests
{
    private static KvmVcpuState SampleVcpu()
    {
        var s = new KvmVcpuState { Cr8 = 7, ApicBase = 0xFEE0_0900, MpState = 3 };
        s.InterruptBitmap[1] = 1UL << 4; // vector 0x44 being injected
        for (int i = 0; i < 512; i++) s.Xsave[i] = (byte)(i * 7);
        BinaryPrimitives.WriteUInt64LittleEndian(s.Xsave.AsSpan(512), 0b111); // XSTATE_BV: x87, SSE, AVX
        s.Xcrs.Add((0, 0b111));
        s.Msrs.Add((0x10, 123_456_789_000));
        s.Msrs.Add((0xC000_0082, 0xFFFF_FFFF_8100_0000));
        s.Msrs.Add((KvmVcpuState.TscDeadline, 42));
        for (int i = 0; i < 6; i++) s.DebugRegisters[i] = 0x1000UL * (ulong)(i + 1);
        s.Events[0] = 1;  // an exception injected
        s.Events[1] = 14; // #PF
        s.Events[2] = 1;
        BinaryPrimitives.WriteUInt32LittleEndian(s.Events.AsSpan(4), 2);
        s.Events[11] = 1; // MOV SS shadow
        s.Events[14] = 1; // NMIs masked
        BinaryPrimitives.WriteUInt32LittleEndian(s.Events.AsSpan(20), 0x5);
        for (int i = 0; i < s.Lapic.Length; i++) s.Lapic[i] = (byte)(i ^ 0x5A);
        return s;
    }

    private static KvmChipsetState SampleChipset()
    {
        var s = new KvmChipsetState { Clock = 9_876_543_210 };
        s.MasterPic[1] = 0x01; s.MasterPic[2] = 0xFA; s.MasterPic[5] = 0x20; s.MasterPic[9] = 0; s.MasterPic[13] = 1; s.MasterPic[14] = 0x08;
        s.SlavePic[5] = 0x28; s.SlavePic[15] = 0xDE;
        BinaryPrimitives.WriteUInt64LittleEndian(s.Ioapic, KvmChipsetState.IoapicBase);
        s.Ioapic[16] = 0x11; // irr
        BinaryPrimitives.WriteUInt32LittleEndian(s.Pit, 0x10000); // counter 0 from 65536
        s.Pit[12] = 3; s.Pit[13] = 2; s.Pit[15] = 1;             // lobyte/hibyte, rate generator, gate up
        BinaryPrimitives.WriteInt64LittleEndian(s.Pit.AsSpan(16), 1_500_000); // loaded 1.5 ms before the save
        BinaryPrimitives.WriteUInt32LittleEndian(s.Pit.AsSpan(24), 1193); s.Pit[24 + 13] = 3;
        s.Pit[48 + 13] = 0xFF; // counter 2 never programmed: KVM's mode for that
        BinaryPrimitives.WriteUInt32LittleEndian(s.Pit.AsSpan(72), 2); // speaker data on
        return s;
    }

    private static byte[] Written(Action<StateWriter> write)
    {
        var w = new StateWriter();
        write(w);
        return w.Written.ToArray();
    }

    [Fact]
    public void Vcpu_extras_round_trip()
    {
        var sample = SampleVcpu();
        byte[] bytes = Written(sample.Write);
        var reader = new StateReader("cpu", bytes);
        var back = KvmVcpuState.Read(reader);
        reader.End();

        Assert.Equal(bytes, Written(back.Write));
        Assert.Equal(7UL, back.Cr8);
        Assert.Equal(0xFEE0_0900UL, back.ApicBase);
        Assert.Equal(sample.InterruptBitmap, back.InterruptBitmap);
        Assert.Equal(sample.Xsave, back.Xsave);
        Assert.Equal(sample.Xcrs, back.Xcrs);
        Assert.Equal(sample.Msrs, back.Msrs);
        Assert.Equal(sample.DebugRegisters, back.DebugRegisters);
        Assert.Equal(sample.Events, back.Events);
        Assert.Equal(3U, back.MpState);
        Assert.Equal(sample.Lapic, back.Lapic);
    }

    [Fact]
    public void Chipset_round_trips()
    {
        byte[] bytes = Written(SampleChipset().Write);
        var reader = new StateReader("port 0x20", bytes);
        var back = KvmChipsetState.Read(reader);
        reader.End();

        Assert.Equal(bytes, Written(back.Write));
        Assert.Equal(9_876_543_210UL, back.Clock);
        Assert.Equal(0xFA, back.MasterPic[2]);
        Assert.Equal(0xDE, back.SlavePic[15]);
        Assert.Equal(0x11, back.Ioapic[16]);
        Assert.Equal(SampleChipset().Pit, back.Pit);
        Assert.Equal(1_500_000, back.PitLoadAge(0));
    }

    [Fact]
    public void Truncated_sections_are_refused_by_name()
    {
        byte[] vcpu = Written(SampleVcpu().Write), chipset = Written(SampleChipset().Write);
        foreach (int cut in new[] { 0, 7, 100, vcpu.Length / 2, vcpu.Length - 1 })
            Assert.StartsWith("section 'cpu': ", Assert.Throws<StateFormatException>(() => KvmVcpuState.Read(new StateReader("cpu", vcpu[..cut]))).Message);
        foreach (int cut in new[] { 0, 3, 40, chipset.Length - 1 })
            Assert.StartsWith("section 'port 0x20': ", Assert.Throws<StateFormatException>(() => KvmChipsetState.Read(new StateReader("port 0x20", chipset[..cut]))).Message);
    }

    [Theory]
    [InlineData("Cr8", "CR8 is 16")]
    [InlineData("TwoInjected", "more than one interrupt")]
    [InlineData("Compacted", "compacted form")]
    [InlineData("ForeignMsr", "MSR 0x1b is not one a KVM vCPU saves")]
    [InlineData("DuplicateMsr", "MSR 0x10 appears twice")]
    [InlineData("MpState", "the MP state is 11")]
    [InlineData("ExceptionVector", "vector 32")]
    [InlineData("Shadow", "interrupt shadow reads 4")]
    [InlineData("EventFlags", "flags 0x40")]
    public void Impossible_vcpu_values_are_refused(string damage, string expected)
    {
        var s = SampleVcpu();
        switch (damage)
        {
            case "Cr8": s.Cr8 = 16; break;
            case "TwoInjected": s.InterruptBitmap[2] = 1; break;
            case "Compacted": s.Xsave[520 + 7] = 0x80; break;
            case "ForeignMsr": s.Msrs.Add((0x1B, 0)); break;
            case "DuplicateMsr": s.Msrs.Add((0x10, 0)); break;
            case "MpState": s.MpState = 11; break;
            case "ExceptionVector": s.Events[1] = 32; break;
            case "Shadow": s.Events[11] = 4; break;
            case "EventFlags": s.Events[20] = 0x40; break;
        }
        var e = Assert.Throws<StateFormatException>(() => KvmVcpuState.Read(new StateReader("cpu", Written(s.Write))));
        Assert.StartsWith("section 'cpu': ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("VectorBase", "vector base 0x21")]
    [InlineData("PicFlag", "a flag of the slave 8259 reads 2")]
    [InlineData("Ioapic", "the I/O APIC is at 0xfed00000")]
    [InlineData("PitCount", "counter 1 counts from 65537")]
    [InlineData("PitMode", "counter 2's mode is 6")]
    [InlineData("PitFlags", "flags 0x4")]
    public void Impossible_chipset_values_are_refused(string damage, string expected)
    {
        var s = SampleChipset();
        switch (damage)
        {
            case "VectorBase": s.MasterPic[5] = 0x21; break;
            case "PicFlag": s.SlavePic[7] = 2; break;
            case "Ioapic": BinaryPrimitives.WriteUInt64LittleEndian(s.Ioapic, 0xFED0_0000); break;
            case "PitCount": BinaryPrimitives.WriteUInt32LittleEndian(s.Pit.AsSpan(24), 0x10001); break;
            case "PitMode": s.Pit[48 + 13] = 6; break;
            case "PitFlags": s.Pit[72] = 4; break;
        }
        var e = Assert.Throws<StateFormatException>(() => KvmChipsetState.Read(new StateReader("port 0x20", Written(s.Write))));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_kernel_structure_of_the_wrong_size_is_refused()
    {
        var w = new StateWriter();
        w.WriteBytes(new byte[15]); // a kvm_pic_state is 16 bytes
        var e = Assert.Throws<StateFormatException>(() => KvmChipsetState.Read(new StateReader("port 0x20", w.Written.ToArray())));
        Assert.Contains("the master 8259's state is 15 bytes, not 16", e.Message);
    }
}
