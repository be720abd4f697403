using System.Buffers.Binary;
using VirtShell.Cpu.Kvm;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Engine.State;

namespace VirtShell.Models.Migration;

/// <summary>
/// A PC's saved state carried between the emulated model and KVM (<c>hardware</c>): memory and every device of the
/// definition go over as they are (the same classes write them on both), the CPU's architectural registers too
/// (<see cref="CpuStateSection"/>); what differs is translated — the interpreter's extras against KVM's, our 8259
/// pair, 8254 and port 0x61 against KVM's in-kernel chipset. Each side's template is the state of a machine of the
/// same definition built afresh on that model and never run: it supplies what the other side has no value for (the
/// XSAVE area, KVM's MSR list and clock) and tells an APIC the guest never touched. Anything that would not arrive
/// exactly is refused, naming it (docs/state-format.md, "Between models").
/// </summary>
public static class PcStateTranslation
{
    public const string Emulated = "emulated", Hardware = "hardware";

    private const string PicSection = "port 0x20", PitSection = "port 0x40", PortBSection = "port 0x61", ApicSection = "mmio 0xfec00000";
    private static readonly string[] EmulatedChipset = [PicSection, PitSection, PortBSection, ApicSection];
    private static readonly string[] KvmChipset = [PicSection];

    /// <summary>
    /// An emulated PC's state as a <c>hardware</c> machine's. <paramref name="freshEmulated"/> and
    /// <paramref name="freshKvm"/> are the states of fresh machines of the same definition on each model.
    /// </summary>
    /// <exception cref="StateNotSupportedException">Something in the state has no exact counterpart on KVM.</exception>
    public static SavedState ToKvm(SavedState emulated, SavedState freshEmulated, SavedState freshKvm)
    {
        Require(emulated, Emulated);
        if (!ApicsUntouched(Section(emulated, ApicSection), Section(freshEmulated, ApicSection)))
            throw Refused("the guest has used its local or I/O APIC, whose state does not move to KVM's in-kernel APICs yet");
        var chipset = KvmChipsetState.Read(Reader(freshKvm, PicSection));
        PicsToKvm(Reader(emulated, PicSection), chipset);
        PitToKvm(Reader(emulated, PitSection), Reader(freshEmulated, PitSection), Reader(emulated, PortBSection), chipset);
        var chipsetWriter = new StateWriter();
        chipset.Write(chipsetWriter);
        return Assemble(emulated, freshKvm, Hardware, EmulatedChipset, KvmChipset, new()
        {
            [StateCapture.CpuSection] = CpuToKvm(Reader(emulated, StateCapture.CpuSection), Reader(freshKvm, StateCapture.CpuSection)),
            [PicSection] = chipsetWriter.Written.ToArray(),
        });
    }

    /// <summary>A <c>hardware</c> machine's state as an emulated PC's; the templates as for <see cref="ToKvm"/>.</summary>
    /// <exception cref="StateNotSupportedException">Something in the state has no exact counterpart in the emulated PC.</exception>
    public static SavedState ToEmulated(SavedState kvm, SavedState freshKvm, SavedState freshEmulated)
    {
        Require(kvm, Hardware);
        var chipset = KvmChipsetState.Read(Reader(kvm, PicSection));
        var freshChipset = KvmChipsetState.Read(Reader(freshKvm, PicSection));
        if (!chipset.Ioapic.AsSpan().SequenceEqual(freshChipset.Ioapic))
            throw Refused("the guest has used KVM's I/O APIC, whose state does not move to the emulated one yet");
        var pics = new StateWriter();
        PicsToEmulated(chipset, freshChipset, Section(freshEmulated, PicSection), pics);
        var (pit, portB) = PitToEmulated(chipset, Reader(freshEmulated, PitSection));
        return Assemble(kvm, freshEmulated, Emulated, KvmChipset, EmulatedChipset, new()
        {
            [StateCapture.CpuSection] = CpuToEmulated(Reader(kvm, StateCapture.CpuSection), Reader(freshKvm, StateCapture.CpuSection), Reader(freshEmulated, StateCapture.CpuSection)),
            [PicSection] = pics.Written.ToArray(),
            [PitSection] = pit,
            [PortBSection] = portB,
            [ApicSection] = freshEmulated.Find(ApicSection)!,
        });
    }

    /// <summary>
    /// The target's sections in its template's order: translated ones from <paramref name="translated"/>, every other
    /// one the source's own, which must have it; a source section neither translated nor in the target is refused.
    /// </summary>
    private static SavedState Assemble(SavedState source, SavedState template, string model, string[] sourceChipset, string[] targetChipset,
        Dictionary<string, byte[]> translated)
    {
        var result = new SavedState(model);
        foreach (string name in template.SectionNames)
        {
            if (translated.TryGetValue(name, out var bytes)) result.Add(name, bytes);
            else if (source.Find(name) is { } same && !targetChipset.Contains(name)) result.Add(name, same);
            else throw Refused($"the {model} machine has a part ({name}) the {source.Model} machine lacks");
        }
        var left = source.SectionNames.Where(n => result.Find(n) == null && !sourceChipset.Contains(n)).ToList();
        if (left.Count > 0) throw Refused($"the {source.Model} machine has parts the {model} machine lacks ({string.Join(", ", left)})");
        return result;
    }

    /// <summary>The state of <paramref name="spec"/>'s machine built afresh on <paramref name="model"/> and never run: a translation's template.</summary>
    public static SavedState Fresh(IMachineModel model, MachineSpec spec)
    {
        using var console = new ConsoleChannel(null);
        using var runtime = (VirtualMachineRuntime)model.CreateRuntime(spec, new MachineServices(console, _ => { }, _ => { }));
        var file = new MemoryStream();
        runtime.SaveState(file);
        file.Position = 0;
        return SavedState.Read(file);
    }

    /// <summary>Refuses a state of any model but <paramref name="from"/> moving to <paramref name="to"/>.</summary>
    public static void RequireSource(SavedState state, string from, string to)
    {
        if (state.Model != from)
            throw new StateNotSupportedException($"a '{state.Model}' machine cannot move to model '{to}': only an {from} PC's state translates to it");
    }

    // ---- CPU ----

    /// <summary>What the interpreter writes after CpuStateSection (Cpu.Interpreter/SavedState.cs).</summary>
    private sealed class InterpreterExtras
    {
        public bool Halted, InterruptShadow, MovSsShadow, NmiBlocked;
        public int Cpl;
        public long Retired;
        public ulong Tsc;
        public ulong[] Msrs = new ulong[InterpreterMsrs.Length];
        public uint[] Dr = new uint[4];
        public uint Dr6, Dr7, AddressMask;

        public static InterpreterExtras Read(StateReader r)
        {
            var x = new InterpreterExtras
            {
                Halted = r.ReadBool(), InterruptShadow = r.ReadBool(), MovSsShadow = r.ReadBool(), NmiBlocked = r.ReadBool(),
                Cpl = r.ReadInt32(0, 3, "the CPL"), Retired = r.ReadInt64(), Tsc = r.ReadUInt64(),
            };
            for (int i = 0; i < x.Msrs.Length; i++) x.Msrs[i] = r.ReadUInt64();
            for (int i = 0; i < 4; i++) x.Dr[i] = r.ReadUInt32();
            (x.Dr6, x.Dr7, x.AddressMask) = (r.ReadUInt32(), r.ReadUInt32(), r.ReadUInt32());
            r.End();
            return x;
        }

        public void Write(StateWriter w)
        {
            foreach (bool f in (ReadOnlySpan<bool>)[Halted, InterruptShadow, MovSsShadow, NmiBlocked]) w.WriteBool(f);
            w.WriteInt32(Cpl);
            w.WriteInt64(Retired);
            w.WriteUInt64(Tsc);
            foreach (ulong m in Msrs) w.WriteUInt64(m);
            foreach (uint d in Dr) w.WriteUInt32(d);
            w.WriteUInt32(Dr6);
            w.WriteUInt32(Dr7);
            w.WriteUInt32(AddressMask);
        }
    }

    /// <summary>The MSRs the interpreter saves, in its order.</summary>
    private static readonly uint[] InterpreterMsrs =
    [
        X86.MsrSysenterCs, X86.MsrSysenterEsp, X86.MsrSysenterEip, X86.MsrMiscEnable, X86.MsrTscAux,
        X86.MsrStar, X86.MsrLstar, X86.MsrCstar, X86.MsrSfmask, X86.MsrKernelGsBase,
    ];

    private const byte ShadowMovSs = 1, ShadowSti = 2;     // kvm_vcpu_events.interrupt.shadow
    private const int EventShadow = 11, EventNmiMasked = 14;
    private const uint MpRunnable = 0, MpHalted = 3;

    private static byte[] CpuToKvm(StateReader source, StateReader template)
    {
        var state = CpuStateSection.Read(source);
        var x = InterpreterExtras.Read(source);
        CpuStateSection.Read(template);
        var kvm = KvmVcpuState.Read(template);
        if (x.AddressMask != uint.MaxValue) throw Refused("the guest has the A20 gate closed, which KVM does not have");
        SetMsr(kvm, X86.MsrTsc, x.Tsc);
        for (int i = 0; i < InterpreterMsrs.Length; i++) SetMsr(kvm, InterpreterMsrs[i], x.Msrs[i]);
        for (int i = 0; i < 4; i++) kvm.DebugRegisters[i] = x.Dr[i];
        (kvm.DebugRegisters[4], kvm.DebugRegisters[5]) = (x.Dr6, x.Dr7);
        kvm.MpState = x.Halted ? MpHalted : MpRunnable;
        kvm.Events[EventShadow] = !x.InterruptShadow ? (byte)0 : x.MovSsShadow ? ShadowMovSs : ShadowSti;
        kvm.Events[EventNmiMasked] = x.NmiBlocked ? (byte)1 : (byte)0;
        var w = new StateWriter();
        CpuStateSection.Write(w, state);
        kvm.Write(w);
        return w.Written.ToArray();
    }

    private static void SetMsr(KvmVcpuState kvm, uint index, ulong value)
    {
        int i = kvm.Msrs.FindIndex(m => m.Index == index);
        if (i >= 0) kvm.Msrs[i] = (index, value);
        else if (value != 0) throw Refused($"KVM on this host does not keep MSR 0x{index:x}, which the guest set to 0x{value:x}");
    }

    private static byte[] CpuToEmulated(StateReader source, StateReader freshKvm, StateReader freshEmulated)
    {
        var state = CpuStateSection.Read(source);
        var kvm = KvmVcpuState.Read(source);
        CpuStateSection.Read(freshKvm);
        var fresh = KvmVcpuState.Read(freshKvm);
        CpuStateSection.Read(freshEmulated);
        var x = InterpreterExtras.Read(freshEmulated);

        if (kvm.ApicBase != fresh.ApicBase || !kvm.Lapic.AsSpan().SequenceEqual(fresh.Lapic) || kvm.Cr8 != 0)
            throw Refused("the guest has used KVM's local APIC, whose state does not move to the emulated one yet");
        var e = kvm.Events;
        if (kvm.InterruptBitmap.Any(w => w != 0) || e[0] != 0 || e[3] != 0 || e[8] != 0 || e[12] != 0 || e[13] != 0)
            throw Refused("an interrupt, exception or NMI was being delivered when the machine paused; try again");
        if (kvm.Xcrs.Any(c => c.Index == 0 && (c.Value & ~0b11UL) != 0))
            throw Refused("the guest has enabled XSAVE components beyond x87 and SSE (AVX...), which the interpreter does not have");
        if (kvm.Msrs.Any(m => m.Index is 0x12 or 0x4B56_4D01 && (m.Value & 1) != 0))
            throw Refused("the guest reads time from KVM's paravirtual clock, which the emulated model does not have");
        if (kvm.DebugRegisters.Take(4).Any(d => d > uint.MaxValue))
            throw Refused("a debug register holds a 64-bit breakpoint address, which the interpreter's 32-bit debug registers cannot");

        x.Halted = kvm.MpState == MpHalted;
        x.InterruptShadow = e[EventShadow] != 0;
        x.MovSsShadow = (e[EventShadow] & ShadowMovSs) != 0;
        x.NmiBlocked = e[EventNmiMasked] != 0;
        bool protectedMode = (state.Cr0 & 1) != 0, v86 = (state.Rflags & (1UL << 17)) != 0;
        x.Cpl = !protectedMode ? 0 : v86 ? 3 : state.Cs.Selector & 3;
        x.Tsc = Msr(kvm, X86.MsrTsc) ?? throw Refused("the saved vCPU has no TSC value");
        for (int i = 0; i < InterpreterMsrs.Length; i++) x.Msrs[i] = Msr(kvm, InterpreterMsrs[i]) ?? x.Msrs[i];
        for (int i = 0; i < 4; i++) x.Dr[i] = (uint)kvm.DebugRegisters[i];
        (x.Dr6, x.Dr7, x.AddressMask) = ((uint)kvm.DebugRegisters[4], (uint)kvm.DebugRegisters[5], uint.MaxValue);
        var w = new StateWriter();
        CpuStateSection.Write(w, state);
        x.Write(w);
        return w.Written.ToArray();
    }

    private static ulong? Msr(KvmVcpuState kvm, uint index) => kvm.Msrs.FirstOrDefault(m => m.Index == index) is var (i, v) && i == index ? v : null;

    // ---- 8259 pair ----

    // Ours (Devices/Chipset/Pic8259.cs), per chip: irr, isr, imr, lines, vector base, cascade (bytes); highest
    // priority, initialization step (int32; 0 or 2..4, the ICW expected); initialized, expect ICW3, expect ICW4,
    // level triggered, auto EOI, rotate on auto EOI, special mask, special fully nested, read ISR, poll (bools).
    // KVM's struct kvm_pic_state: last_irr, irr, imr, isr, priority_add, irq_base, read_reg_select, poll,
    // special_mask, init_state (1..3, the ICW expected less one), auto_eoi, rotate_on_auto_eoi,
    // special_fully_nested_mode, init4, elcr, elcr_mask.
    private const int PicSize = 24;
    private static readonly byte[] StandardCascade = [0x04, 0x02]; // master: the slave on IR2; slave: identity 2

    private static void PicsToKvm(StateReader source, KvmChipsetState chipset)
    {
        foreach (var (pic, chip) in new[] { (chipset.MasterPic, 0), (chipset.SlavePic, 1) })
        {
            string name = chip == 0 ? "master" : "slave";
            var (irr, isr, imr, lines, vectorBase, cascade) = (source.ReadByte(), source.ReadByte(), source.ReadByte(), source.ReadByte(), source.ReadByte(), source.ReadByte());
            int highest = source.ReadInt32(0, 7, "an 8259's highest-priority input"), step = source.ReadInt32(0, 4, "an 8259's initialization step");
            bool initialized = source.ReadBool(), icw3 = source.ReadBool(), icw4 = source.ReadBool(), level = source.ReadBool(), autoEoi = source.ReadBool(),
                rotate = source.ReadBool(), specialMask = source.ReadBool(), nested = source.ReadBool(), readIsr = source.ReadBool(), poll = source.ReadBool();
            if (initialized && (!icw3 || cascade != StandardCascade[chip]))
                throw Refused($"the guest wired the {name} 8259 other than as a PC's cascade, which KVM's PIC assumes");
            (pic[0], pic[1], pic[2], pic[3], pic[4], pic[5]) = (lines, irr, imr, isr, (byte)highest, vectorBase);
            (pic[6], pic[7], pic[8], pic[9]) = (B(readIsr), B(poll), B(specialMask), (byte)(step == 0 ? 0 : step - 1));
            (pic[10], pic[11], pic[12], pic[13]) = (B(autoEoi), B(rotate), B(nested), B(icw4));
            pic[14] = level ? pic[15] : (byte)0; // ICW1's level mode as KVM has it: every line level-triggered in the ELCR
        }
        source.End();
    }

    private static void PicsToEmulated(KvmChipsetState chipset, KvmChipsetState fresh, byte[] freshPics, StateWriter w)
    {
        foreach (var (pic, freshPic, chip) in new[] { (chipset.MasterPic, fresh.MasterPic, 0), (chipset.SlavePic, fresh.SlavePic, 1) })
        {
            if (pic.AsSpan().SequenceEqual(freshPic))
            {
                foreach (byte b in freshPics.AsSpan(chip * PicSize, PicSize)) w.WriteByte(b); // never programmed: ours as it powers up
                continue;
            }
            string name = chip == 0 ? "master" : "slave";
            if (pic[14] != 0 && pic[14] != pic[15])
                throw Refused($"the guest set the {name} 8259's lines to different trigger modes (ELCR 0x{pic[14]:x}), which the emulated 8259 does not have");
            foreach (byte b in (ReadOnlySpan<byte>)[pic[1], pic[3], pic[2], pic[0], pic[5], StandardCascade[chip]]) w.WriteByte(b);
            w.WriteInt32(pic[4] & 7);
            w.WriteInt32(pic[9] == 0 ? 0 : pic[9] + 1);
            foreach (bool f in (ReadOnlySpan<bool>)[true, true, pic[13] != 0, pic[14] != 0, pic[10] != 0, pic[11] != 0, pic[8] != 0,
                         pic[12] != 0, pic[6] != 0, pic[7] != 0])
                w.WriteBool(f);
        }
    }

    private static byte B(bool value) => value ? (byte)1 : (byte)0;

    // ---- 8254 and port 0x61 ----

    // Ours (Devices/Chipset/PitChannel.cs), per counter: access, mode, reload (int32), the load's age (ns before the
    // save), ticks counted before the gate last stopped it (int64), frozen count (uint16), pending low byte, then
    // bcd, gate, triggered, counting, write high, read high, null count, latched high next (bools), latched count
    // and latched status (int32, -1 for none); after the three counters, whether IRQ 0 is asserted.
    // KVM's struct kvm_pit_channel_state: count, latched_count, count_latched, status_latched, status, read_state,
    // write_state, write_latch, rw_mode, mode, bcd, gate, count_load_time (its age, in the chipset section).
    private const uint SpeakerDataOn = 2;
    private const byte PortBGate2 = 0x01, PortBSpeaker = 0x02;
    private const long PitHz = 1_193_182;
    private const int KvmChannelSize = 24, RwWord0 = 3, RwWord1 = 4;
    private const byte KvmModeUnset = 0xFF;

    private sealed record Channel(int Access, int Mode, int Reload, long AgeNs, long TicksBefore, ushort Frozen, byte PendingLow,
        bool Bcd, bool Gate, bool Triggered, bool Counting, bool WriteHigh, bool ReadHigh, bool NullCount, bool LatchedHighNext, int Latched, int Status)
    {
        public static Channel Read(StateReader r) => new(r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt64(), r.ReadInt64(), r.ReadUInt16(), r.ReadByte(),
            r.ReadBool(), r.ReadBool(), r.ReadBool(), r.ReadBool(), r.ReadBool(), r.ReadBool(), r.ReadBool(), r.ReadBool(), r.ReadInt32(), r.ReadInt32());

        public void Write(StateWriter w)
        {
            w.WriteInt32(Access);
            w.WriteInt32(Mode);
            w.WriteInt32(Reload);
            w.WriteInt64(AgeNs);
            w.WriteInt64(TicksBefore);
            w.WriteUInt16(Frozen);
            w.WriteByte(PendingLow);
            foreach (bool f in (ReadOnlySpan<bool>)[Bcd, Gate, Triggered, Counting, WriteHigh, ReadHigh, NullCount, LatchedHighNext]) w.WriteBool(f);
            w.WriteInt32(Latched);
            w.WriteInt32(Status);
        }

        /// <summary>The same programming, whenever it was loaded.</summary>
        public bool SameAs(Channel other) => this with { AgeNs = 0 } == other with { AgeNs = 0 };
    }

    private static (Channel[] Channels, bool Irq) ReadPit(StateReader r)
    {
        var channels = new[] { Channel.Read(r), Channel.Read(r), Channel.Read(r) };
        bool irq = r.ReadBool();
        r.End();
        return (channels, irq);
    }

    private static void PitToKvm(StateReader source, StateReader fresh, StateReader portBReader, KvmChipsetState chipset)
    {
        var (channels, _) = ReadPit(source);
        var (freshChannels, _) = ReadPit(fresh);
        byte portB = portBReader.ReadByte();
        portBReader.End();
        for (int i = 0; i < 3; i++)
        {
            var c = channels[i];
            // Counter 2's gate is port 0x61's bit 0, in KVM's PIT as in ours.
            bool gate = i == 2 ? (portB & PortBGate2) != 0 : c.Gate;
            if (c.SameAs(freshChannels[i]))
            {
                chipset.Pit[i * KvmChannelSize + 15] = B(gate); // never programmed: otherwise KVM's as it powers up, which the template has
                continue;
            }
            if (!c.Counting) throw Refused($"the guest was programming 8254 counter {i} (a control word without its count yet); try again");
            if (c.WriteHigh || c.ReadHigh || c.Latched >= 0 || c.Status >= 0)
                throw Refused($"the guest was in the middle of reading or writing 8254 counter {i}; try again");
            if (c.Mode is 1 or 5 && !c.Triggered) throw Refused($"8254 counter {i} waits for a gate edge, which KVM's PIT does not model");
            var k = chipset.Pit.AsSpan(i * KvmChannelSize, KvmChannelSize);
            k.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(k, (uint)c.Reload);
            k[9] = k[10] = (byte)(c.Access == 3 ? RwWord0 : c.Access); // read_state, write_state: the next access is a fresh one
            (k[12], k[13], k[14], k[15]) = ((byte)c.Access, (byte)c.Mode, B(c.Bcd), B(gate));
            BinaryPrimitives.WriteInt64LittleEndian(k[16..], c.AgeNs + c.TicksBefore * 1_000_000_000 / PitHz);
        }
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(chipset.Pit.AsSpan(72)) & ~SpeakerDataOn;
        if ((portB & PortBSpeaker) != 0) flags |= SpeakerDataOn;
        BinaryPrimitives.WriteUInt32LittleEndian(chipset.Pit.AsSpan(72), flags);
    }

    private static (byte[] Pit, byte[] PortB) PitToEmulated(KvmChipsetState chipset, StateReader fresh)
    {
        var (freshChannels, _) = ReadPit(fresh);
        var w = new StateWriter();
        for (int i = 0; i < 3; i++)
        {
            var k = chipset.Pit.AsSpan(i * KvmChannelSize, KvmChannelSize);
            if (k[13] == KvmModeUnset)
            {
                (freshChannels[i] with { Gate = k[15] != 0 }).Write(w); // never programmed: ours as it powers up
                continue;
            }
            if (k[6] != 0 || k[7] != 0 || k[9] == RwWord1 || k[10] == RwWord1)
                throw Refused($"the guest was in the middle of reading or writing 8254 counter {i}; try again");
            if (k[12] is < 1 or > 3) throw Refused($"8254 counter {i} has access mode {k[12]}, which the emulated 8254 does not have");
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(k);
            new Channel(Access: k[12], Mode: k[13], Reload: count == 0 ? 0x10000 : (int)count, AgeNs: chipset.PitLoadAge(i), TicksBefore: 0, Frozen: 0,
                PendingLow: 0, Bcd: k[14] != 0, Gate: k[15] != 0, Triggered: k[13] is 1 or 5, Counting: true, WriteHigh: false, ReadHigh: false,
                NullCount: false, LatchedHighNext: false, Latched: -1, Status: -1).Write(w);
        }
        w.WriteBool(false); // IRQ 0's level: KVM's PIC holds the edge it saw (last_irr)
        bool speaker = (BinaryPrimitives.ReadUInt32LittleEndian(chipset.Pit.AsSpan(72)) & SpeakerDataOn) != 0;
        byte portB = (byte)((chipset.Pit[2 * KvmChannelSize + 15] != 0 ? PortBGate2 : 0) | (speaker ? PortBSpeaker : 0));
        return (w.Written.ToArray(), [portB]);
    }

    // ---- helpers ----

    private static StateReader Reader(SavedState state, string section) => new(section, Section(state, section));

    private static byte[] Section(SavedState state, string section) =>
        state.Find(section) ?? throw Refused($"the {state.Model} machine's state has no section {section}");

    // The APICs' section (Devices/Apic/ApicChipset.cs, LocalApic.cs, IoApic.cs): the APIC base MSR (8 bytes); the
    // local APIC's ISR, TMR, IRR and six LVTs, eleven registers (172 bytes to here), the timer's start (a timestamp,
    // 8), divide shift, fired and NMI flags, its deadline (a never flag, then 8 bytes unless never); the I/O APIC's
    // 24 redirection entries (192), its 24 input levels (which follow the devices, not the guest), select and ID.
    private const int ApicTimerStart = 172, ApicDeadline = 186, IoApicRedirections = 192, IoApicInputs = 24;

    /// <summary>Whether the guest left both APICs as they power up: all but the timer's start and the I/O APIC's input levels as in a fresh machine.</summary>
    private static bool ApicsUntouched(byte[] apics, byte[] fresh)
    {
        if (apics.Length != fresh.Length || apics.Length <= ApicDeadline || apics[ApicDeadline] != 1 || fresh[ApicDeadline] != 1) return false;
        int io = ApicDeadline + 1, inputs = io + IoApicRedirections;
        ReadOnlySpan<byte> a = apics, f = fresh;
        return a[..ApicTimerStart].SequenceEqual(f[..ApicTimerStart]) && a[(ApicTimerStart + 8)..inputs].SequenceEqual(f[(ApicTimerStart + 8)..inputs])
            && a[(inputs + IoApicInputs)..].SequenceEqual(f[(inputs + IoApicInputs)..]);
    }

    private static void Require(SavedState state, string model)
    {
        if (state.Model != model) throw new ArgumentException($"a state of model '{state.Model}', not '{model}'", nameof(state));
    }

    private static StateNotSupportedException Refused(string why) => new($"the state cannot move: {why}");
}
