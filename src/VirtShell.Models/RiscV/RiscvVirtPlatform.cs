using VirtShell.Cpu.RiscV;
using VirtShell.Devices;
using VirtShell.Devices.RiscV;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;
using VirtShell.Engine.State;

namespace VirtShell.Models.RiscV;

/// <summary>
/// The riscv64 machine, laid out as QEMU's <c>virt</c> board so its firmware and kernels run unchanged: the test
/// finisher at 0x100000, the CLINT at 0x2000000, the PLIC at 0xC000000, the definition's memory-mapped devices
/// (a 16550 at 0x10000000, virtio-mmio from 0x10001000 by convention), RAM from 0x80000000. The device tree the guest
/// gets is made from the same definition: one node per device. Boot: the firmware image (OpenSBI's fw_jump) at
/// 0x80000000 in M-mode with a0 = hart 0 and a1 = the device tree; the kernel it jumps to at 0x80200000; the initrd
/// and command line in /chosen.
/// </summary>
public static class RiscvVirtPlatform
{
    public const string Arch = "riscv64";
    public const ulong RamBase = 0x8000_0000, KernelAddress = 0x8020_0000;
    public const ulong TestBase = 0x10_0000, ClintBase = 0x200_0000, PlicBase = 0xC00_0000;
    public const ulong MinMemory = 16 << 20, MaxMemory = 2UL << 30;
    private const uint CpuIntcHandle = 1, PlicHandle = 2, TestHandle = 3;

    private static readonly (ulong Start, ulong Length, string Owner)[] Board =
        [(TestBase, TestFinisher.Size, "test finisher"), (ClintBase, Clint.Size, "CLINT"), (PlicBase, Plic.Size, "PLIC")];

    public static void Validate(MachineSpec spec, IReadOnlyList<IDeviceType> types)
    {
        foreach (var section in spec.Sections.Keys)
            throw new DefinitionException($"machine '{spec.Name}': a '{section}' section does not apply to model '{spec.Model}'", spec.Source);
        if (spec.MemoryBytes < MinMemory || spec.MemoryBytes > MaxMemory)
            throw new DefinitionException(
                $"machine '{spec.Name}': a riscv64 machine's memory must be between {MinMemory >> 20} MiB and {MaxMemory >> 30} GiB, not {spec.MemoryBytes} bytes", spec.Source);
        var boot = spec.Boot ?? throw new DefinitionException($"machine '{spec.Name}' has no boot section", spec.Source);
        if (boot.Kind != BootKind.Firmware || boot.Modules.Count > 0)
            throw new DefinitionException(
                "a riscv64 machine boots firmware: boot: { type: 'firmware', image: 'fw_jump.bin', kernel, initrd, cmdline }", boot.Source ?? spec.Source);
        foreach (var (what, path, limit) in new[] { ("firmware", boot.Image, KernelAddress - RamBase), ("kernel", boot.Kernel, spec.MemoryBytes / 2), ("initrd", boot.Initrd, spec.MemoryBytes / 4) })
            if (path != null && GuestFiles.Problem(path, (long)limit, $"{limit >> 10} KiB, the room the virt layout leaves it") is { } problem)
                throw new DefinitionException($"{what} '{path}' {problem}", boot.Source ?? spec.Source);

        var mmio = new MmioBus();
        var nobody = new Nobody();
        mmio.Register(RamBase, spec.MemoryBytes, nobody, "RAM");
        foreach (var (start, length, owner) in Board) mmio.Register(start, length, nobody, owner);
        foreach (var device in spec.Devices)
        {
            var type = FindType(device, types);
            type.Validate(device);
            DescribedType(device, types);
            if (type.Ports(device).Any() || type is not IMmioDeviceType mapped || !mapped.MmioRanges(device).Any())
                throw new DefinitionException($"{device.Describe()}: a riscv64 board has no I/O ports; give the device an 'address'", device.Source);
            try
            {
                foreach (var (start, length) in mapped.MmioRanges(device)) mmio.Register(start, length, nobody, device.Describe());
            }
            catch (BusConflictException e)
            {
                throw new DefinitionException($"address conflict: {e.Message}", device.Source);
            }
        }
    }

    /// <summary>
    /// The machine of <paramref name="model"/>, booted from the definition's firmware or, given <paramref name="state"/>
    /// (saved from a machine of the same definition), loaded from it: the hart, the CLINT, the PLIC, each device and
    /// RAM go on where they were.
    /// </summary>
    public static IMachineRuntime CreateRuntime(string model, MachineSpec spec, MachineServices services, IReadOnlyList<IDeviceType> types, SavedState? state = null)
    {
        var memory = new GuestMemory();
        var owned = new List<IDisposable>();
        var wake = new WakeSignal();
        RiscvCpu? cpu = null;
        VirtualMachineRuntime? runtime = null;
        try
        {
            memory.AddRam(RamBase, (spec.MemoryBytes + MemoryBlock.PageSize - 1) & ~(MemoryBlock.PageSize - 1));
            var mmio = new MmioBus();
            cpu = new RiscvCpu(memory, mmio, wake);
            var hart = cpu;
            hart.Clint.Base = ClintBase;
            mmio.Register(ClintBase, Clint.Size, hart.Clint, "CLINT");
            var plic = new Plic(PlicBase, (context, level) => hart.SetExternalInterrupt(supervisor: context == 1, level));
            mmio.Register(PlicBase, Plic.Size, plic, "PLIC");
            mmio.Register(TestBase, TestFinisher.Size, new TestFinisher(TestBase, (reset, code) => services.PowerOff(reset
                ? new MachineExit(ExitReason.GuestReset, Detail: "the guest reset the machine (test finisher)")
                : new MachineExit(ExitReason.GuestPowerOff, Status: code))), "test finisher");
            var context = new DeviceContext(new IoPortBus(), mmio, plic, memory, services);
            foreach (var device in spec.Devices)
                if (FindType(device, types).Attach(device, context) is { } disposable) owned.Add(disposable);
            runtime = new VirtualMachineRuntime(hart, memory, context.Ports, mmio, wake, new Platform(owned, wake, memory)) { Model = model };
            if (state != null) runtime.RestoreState(state);
            else Load(spec, types, memory, hart);
            return runtime;
        }
        catch
        {
            if (runtime != null) runtime.Dispose();
            else
            {
                cpu?.Dispose();
                foreach (var d in owned) d.Dispose();
                wake.Dispose();
                memory.Dispose();
            }
            throw;
        }
    }

    /// <summary>Firmware, kernel, initrd (QEMU's place: half the RAM, at most 128 MiB, above the kernel) and the device tree at the top of RAM.</summary>
    private static void Load(MachineSpec spec, IReadOnlyList<IDeviceType> types, GuestMemory memory, RiscvCpu hart)
    {
        var boot = spec.Boot!;
        memory.Write(RamBase, GuestFiles.Read(boot.Image, (long)(KernelAddress - RamBase), "the room below the kernel"));
        if (boot.Kernel != null) memory.Write(KernelAddress, GuestFiles.Read(boot.Kernel, (long)spec.MemoryBytes / 2, "half the machine's memory"));
        (ulong Start, ulong End)? initrd = null;
        if (boot.Initrd != null)
        {
            var bytes = GuestFiles.Read(boot.Initrd, (long)spec.MemoryBytes / 4, "a quarter of the machine's memory");
            ulong start = KernelAddress + Math.Min(spec.MemoryBytes / 2, 128UL << 20);
            memory.Write(start, bytes);
            initrd = (start, start + (ulong)bytes.Length);
        }
        var blob = DeviceTree.Flatten(Describe(spec, types, initrd));
        ulong dtb = (RamBase + spec.MemoryBytes - (ulong)blob.Length - 0x1000) & ~0xFFFUL;
        memory.Write(dtb, blob);
        hart.Pc = RamBase;
        hart[10] = 0;
        hart[11] = dtb;
    }

    /// <summary>The device tree of the machine <paramref name="spec"/> defines, as Linux and OpenSBI read QEMU's virt.</summary>
    public static DeviceTreeNode Describe(MachineSpec spec, IReadOnlyList<IDeviceType> types, (ulong Start, ulong End)? initrd)
    {
        var root = new DeviceTreeNode("")
            .Cells("#address-cells", 2).Cells("#size-cells", 2)
            .Strings("compatible", "riscv-virtio").Strings("model", $"VirtShell riscv64 virt ({spec.Name})");
        var chosen = root.Child("chosen");
        if (spec.Boot?.CommandLine is { } cmdline) chosen.Strings("bootargs", cmdline);
        if (initrd is { } rd) chosen.Pairs("linux,initrd-start", rd.Start).Pairs("linux,initrd-end", rd.End);
        root.Child($"memory@{RamBase:x}").Strings("device_type", "memory").Pairs("reg", RamBase, spec.MemoryBytes);
        var cpus = root.Child("cpus").Cells("#address-cells", 1).Cells("#size-cells", 0).Cells("timebase-frequency", (uint)Clint.Frequency);
        var cpu = cpus.Child("cpu@0").Strings("device_type", "cpu").Cells("reg", 0).Strings("status", "okay")
            .Strings("compatible", "riscv").Strings("riscv,isa", "rv64imafdc_sstc").Strings("mmu-type", "riscv,sv39");
        cpu.Child("interrupt-controller").Cells("#interrupt-cells", 1).Flag("interrupt-controller")
            .Strings("compatible", "riscv,cpu-intc").Cells("phandle", CpuIntcHandle);
        var soc = root.Child("soc").Cells("#address-cells", 2).Cells("#size-cells", 2).Strings("compatible", "simple-bus").Flag("ranges");
        soc.Child($"test@{TestBase:x}").Strings("compatible", "sifive,test1", "sifive,test0", "syscon")
            .Pairs("reg", TestBase, TestFinisher.Size).Cells("phandle", TestHandle);
        soc.Child("poweroff").Strings("compatible", "syscon-poweroff").Cells("regmap", TestHandle).Cells("offset", 0).Cells("value", TestFinisher.Pass);
        soc.Child("reboot").Strings("compatible", "syscon-reboot").Cells("regmap", TestHandle).Cells("offset", 0).Cells("value", TestFinisher.Reset);
        soc.Child($"clint@{ClintBase:x}").Strings("compatible", "sifive,clint0", "riscv,clint0")
            .Pairs("reg", ClintBase, Clint.Size).Cells("interrupts-extended", CpuIntcHandle, 3, CpuIntcHandle, 7);
        soc.Child($"plic@{PlicBase:x}").Strings("compatible", "sifive,plic-1.0.0", "riscv,plic0")
            .Pairs("reg", PlicBase, Plic.Size).Cells("#address-cells", 0).Cells("#interrupt-cells", 1).Flag("interrupt-controller")
            .Cells("riscv,ndev", Plic.Sources - 1).Cells("interrupts-extended", CpuIntcHandle, 11, CpuIntcHandle, 9).Cells("phandle", PlicHandle);
        var board = new DeviceTreeBoard(soc, "/soc", chosen,
            (node, irq) => node.Cells("interrupts", (uint)irq).Cells("interrupt-parent", PlicHandle));
        foreach (var device in spec.Devices) DescribedType(device, types).Describe(device, board);
        return root;
    }

    /// <summary>The device's type as the device tree needs it: one that can describe its instances.</summary>
    private static IDeviceTreeDeviceType DescribedType(DeviceSpec device, IReadOnlyList<IDeviceType> types) =>
        FindType(device, types) as IDeviceTreeDeviceType ?? throw new DefinitionException(
            $"{device.Describe()}: device type '{device.Type}' cannot describe itself in a device tree, so a riscv64 guest would not find it", device.Source);

    private static IDeviceType FindType(DeviceSpec device, IReadOnlyList<IDeviceType> types) =>
        types.FirstOrDefault(t => t.Name == device.Type) ?? throw new DefinitionException(
            $"unknown device type '{device.Type}' for a riscv64 machine (it knows: {string.Join(", ", types.Select(t => t.Name))})", device.Source);

    private sealed class Nobody : IMmioDevice
    {
        public ulong ReadMmio(ulong address, int size) => ulong.MaxValue;
        public void WriteMmio(ulong address, int size, ulong value) { }
    }

    /// <summary>The devices, the wake signal and RAM, released after the hart.</summary>
    private sealed class Platform(List<IDisposable> devices, WakeSignal wake, GuestMemory memory) : IDisposable
    {
        public void Dispose()
        {
            foreach (var d in devices) d.Dispose();
            wake.Dispose();
            memory.Dispose();
        }
    }
}
