using System.Buffers.Binary;
using VirtShell.Cpu.Kvm;
using VirtShell.Engine.State;
using VirtShell.Models.Emulated;
using VirtShell.Models.Migration;
using VirtShell.Tests.Models;
using VirtShell.Tests.State;

namespace VirtShell.Tests.Kvm;

/// <summary>
/// An emulated PC's state carried to KVM's form and back, without /dev/kvm: the KVM side's template (what a fresh
/// hardware machine of the definition would save) is made here as KVM's reset state is documented. The counting guest
/// must go on exactly after the round trip, and the KVM form must hold the guest's 8259 and 8254 programming.
/// </summary>
public sealed class PcStateTranslationTests
{
    private static readonly string[] EmulatedOnly = ["port 0x40", "port 0x61", "mmio 0xfec00000"];

    /// <summary>A fresh hardware machine's state for the definition <paramref name="freshEmulated"/> was made from.</summary>
    private static SavedState KvmTemplate(SavedState freshEmulated)
    {
        var template = new SavedState(PcStateTranslation.Hardware);
        foreach (string name in freshEmulated.SectionNames.Except(EmulatedOnly))
        {
            var w = new StateWriter();
            if (name == "cpu")
            {
                CpuStateSection.Write(w, new CpuState());
                var vcpu = new KvmVcpuState { ApicBase = 0xFEE0_0900 };
                foreach (uint msr in KvmVcpuState.SavedMsrs.Take(14)) vcpu.Msrs.Add((msr, msr == 0x1A0 ? 1UL : 0));
                vcpu.Xcrs.Add((0, 1));
                vcpu.Lapic[0x20 + 3] = 0; // APIC ID 0
                BinaryPrimitives.WriteUInt32LittleEndian(vcpu.Lapic.AsSpan(0x30), 0x50014);
                vcpu.Write(w);
                template.Add(name, w.Written);
            }
            else if (name == "port 0x20")
            {
                var chipset = new KvmChipsetState();
                (chipset.MasterPic[15], chipset.SlavePic[15]) = (0xF8, 0xDE);
                BinaryPrimitives.WriteUInt64LittleEndian(chipset.Ioapic, KvmChipsetState.IoapicBase);
                for (int i = 0; i < 3; i++) (chipset.Pit[i * 24 + 13], chipset.Pit[i * 24 + 15]) = (0xFF, (byte)(i == 2 ? 0 : 1));
                chipset.Write(w);
                template.Add(name, w.Written);
            }
            else template.Add(name, freshEmulated.Find(name)!);
        }
        return template;
    }

    [Fact]
    public void A_counting_guest_carried_to_kvms_form_and_back_goes_on_without_a_gap_or_a_repeat()
    {
        using var definition = TestDefinitions.Loader().Load(SavedStateRig.Definition(SavedStateGuestTests.CountingGuest));
        SavedState emulated;
        string before;
        using (var first = SavedStateRig.Boot(definition))
        {
            first.WaitFor(text => text.Split('\n').Length > 20, "20 lines");
            emulated = SavedState.Read(new MemoryStream(first.PauseAndSave()));
            before = first.Output();
        }
        var freshEmulated = PcStateTranslation.Fresh(new EmulatedModel(), definition.Spec);
        var freshKvm = KvmTemplate(freshEmulated);

        var kvm = PcStateTranslation.ToKvm(emulated, freshEmulated, freshKvm);
        Assert.Equal("hardware", kvm.Model);
        Assert.Equal(freshKvm.SectionNames, kvm.SectionNames);
        Assert.Equal(emulated.Find("memory"), kvm.Find("memory"));
        Assert.Equal(emulated.Find("port 0x3f8"), kvm.Find("port 0x3f8"));
        var chipset = KvmChipsetState.Read(new StateReader("port 0x20", kvm.Find("port 0x20")!));
        Assert.Equal((byte)0x20, chipset.MasterPic[5]); // irq_base, as the guest's ICW2 set it
        Assert.Equal((byte)0xFE, chipset.MasterPic[2]); // imr: IRQ 0 only
        Assert.Equal((byte)0x28, chipset.SlavePic[5]);
        Assert.Equal((byte)0xFF, chipset.SlavePic[2]);
        Assert.Equal(1193U, BinaryPrimitives.ReadUInt32LittleEndian(chipset.Pit)); // counter 0's count
        Assert.Equal((byte)2, chipset.Pit[13]);    // rate generator
        Assert.Equal((byte)3, chipset.Pit[12]);    // low then high byte
        Assert.Equal((byte)0xFF, chipset.Pit[37]); // counter 1 untouched
        var cpuReader = new StateReader("cpu", kvm.Find("cpu")!);
        var registers = CpuStateSection.Read(cpuReader);
        var vcpu = KvmVcpuState.Read(cpuReader);
        cpuReader.End();
        var emulatedRegisters = CpuStateSection.Read(new StateReader("cpu", emulated.Find("cpu")!));
        Assert.Equal(emulatedRegisters.Rip, registers.Rip);
        Assert.Equal(emulatedRegisters.Rbx, registers.Rbx); // the count
        Assert.Equal(emulatedRegisters.Fpu.St, registers.Fpu.St); // and its copy in ST(0)
        Assert.NotEqual(0UL, vcpu.Msrs.Single(m => m.Index == X86.MsrTsc).Value);

        var back = PcStateTranslation.ToEmulated(kvm, freshKvm, freshEmulated);
        Assert.Equal(emulated.SectionNames, back.SectionNames);
        Assert.Equal(emulated.Find("port 0x20"), back.Find("port 0x20")); // the 8259 pair, exactly
        using var second = SavedStateRig.Restore(definition, back);
        string after = second.WaitFor(text => text.Split('\n').Length > 20, "20 more lines");
        Assert.False(after.StartsWith("0\n1\n"), "the restored machine booted afresh instead of going on");
        SavedStateGuestTests.CountedLines(before + after);
        Assert.DoesNotContain("FAIL", before + after);
    }

    [Fact]
    public void A_guest_that_used_its_apic_is_refused_naming_it()
    {
        using var definition = TestDefinitions.Loader().Load(SavedStateRig.Definition(SavedStateGuestTests.CountingGuest));
        var freshEmulated = PcStateTranslation.Fresh(new EmulatedModel(), definition.Spec);
        var touched = new SavedState(PcStateTranslation.Emulated);
        foreach (string name in freshEmulated.SectionNames)
        {
            var bytes = freshEmulated.Find(name)!.ToArray();
            if (name == "mmio 0xfec00000") bytes[^1] ^= 1;
            touched.Add(name, bytes);
        }
        var e = Assert.Throws<StateNotSupportedException>(() => PcStateTranslation.ToKvm(touched, freshEmulated, KvmTemplate(freshEmulated)));
        Assert.Contains("local or I/O APIC", e.Message);
    }

    [Fact]
    public void A_kvm_guest_using_avx_or_kvmclock_is_refused_naming_it()
    {
        using var definition = TestDefinitions.Loader().Load(SavedStateRig.Definition(SavedStateGuestTests.CountingGuest));
        var freshEmulated = PcStateTranslation.Fresh(new EmulatedModel(), definition.Spec);
        var freshKvm = KvmTemplate(freshEmulated);
        foreach (var (change, expected) in new (Action<KvmVcpuState>, string)[]
                 {
                     (v => v.Xcrs[0] = (0, 0b111), "beyond x87 and SSE"),
                     (v => v.Msrs.Add((0x4B56_4D01, 0x1001)), "paravirtual clock"),
                     (v => v.Events[8] = 1, "being delivered"),
                     (v => v.Lapic[0xF0] = 0xFF, "local APIC"),
                 })
        {
            var reader = new StateReader("cpu", freshKvm.Find("cpu")!);
            var registers = CpuStateSection.Read(reader);
            var vcpu = KvmVcpuState.Read(reader);
            change(vcpu);
            var w = new StateWriter();
            CpuStateSection.Write(w, registers);
            vcpu.Write(w);
            var state = new SavedState(PcStateTranslation.Hardware);
            foreach (string name in freshKvm.SectionNames) state.Add(name, name == "cpu" ? w.Written : freshKvm.Find(name)!);
            var e = Assert.Throws<StateNotSupportedException>(() => PcStateTranslation.ToEmulated(state, freshKvm, freshEmulated));
            Assert.Contains(expected, e.Message);
        }
    }
}
