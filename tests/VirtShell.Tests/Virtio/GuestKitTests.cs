using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;
using VirtShell.Tests.Kvm;
using VirtShell.Tests.Models;
using Xunit;

namespace VirtShell.Tests.Virtio;

/// <summary>
/// The guest kit (machine-defs/guests/kit) through machine-defs/kit-paravirtual.js, unchanged, in a folder of its own
/// with a fresh disk image: the host reads back from the image file what the guest's own virtio-blk driver wrote,
/// and each kind of bad input ends as an error the guest or the user can read.
/// </summary>
[Collection(KvmCollection.Name)]
public sealed class GuestKitTests : IDisposable
{
    private const int Sector = 512, DiskBytes = 1 << 20;

    private readonly string _dir = Directory.CreateTempSubdirectory("virtshell-kit-").FullName;
    private readonly VirtualizationHost _host;
    private readonly List<Machine> _machines = [];

    public GuestKitTests()
    {
        var store = new MachineStore(Path.Combine(_dir, "home"));
        _host = TestDefinitions.Host(store);
        Directory.CreateDirectory(Path.Combine(_dir, "guests/kit"));
        File.Copy(RepoPaths.RequireGuest("guests/kit/kit.bin"), Path.Combine(_dir, "guests/kit/kit.bin"));
        using (var disk = File.Create(DiskPath)) disk.SetLength(DiskBytes);
    }

    public void Dispose()
    {
        foreach (var vm in _machines) vm.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        Directory.Delete(_dir, recursive: true);
    }

    private string DiskPath => Path.Combine(_dir, "guests/kit/disk.img");

    /// <summary>The repository's definition in the test folder, with its text changed where a test says; the kit's settings in its blob file.</summary>
    private string Definition(string config, string file = "kit-paravirtual.js", params (string From, string To)[] changes)
    {
        string text = File.ReadAllText(RepoPaths.MachineDef("kit-paravirtual.js"));
        foreach (var (from, to) in changes)
        {
            Assert.Contains(from, text); // the definition changed under the test: fix the test
            text = text.Replace(from, to);
        }
        string path = Path.Combine(_dir, file);
        File.WriteAllText(path, text);
        File.WriteAllText(Path.Combine(_dir, "guests/kit/selftest.cfg"), config);
        return path;
    }

    private Machine Create(string definition, string name)
    {
        var vm = _host.Create(definition, name);
        _machines.Add(vm);
        return vm;
    }

    /// <summary>Runs the machine to its end; returns everything it printed.</summary>
    private static string RunToPowerOff(Machine vm)
    {
        vm.Start();
        Assert.True(vm.WaitFor([MachineState.Stopped, MachineState.Crashed], GuestConsole.Timeout), $"still {vm.State}");
        long offset = 0;
        return System.Text.Encoding.ASCII.GetString(vm.Console!.ReadFrom(ref offset));
    }

    /// <summary>The kit's pattern (main.c, pattern_byte) at a byte offset of the disk.</summary>
    private static byte Pattern(uint offset, uint seed) => (byte)(seed + offset * 31u + (offset >> 9) * 7u);

    private static void AssertDiskHoldsPatternOnlyAt(string disk, int firstSector, int sectors, uint seed)
    {
        var bytes = File.ReadAllBytes(disk);
        Assert.Equal(DiskBytes, bytes.Length);
        int start = firstSector * Sector, end = start + sectors * Sector;
        for (int i = 0; i < bytes.Length; i++)
        {
            byte expected = i >= start && i < end ? Pattern((uint)i, seed) : (byte)0;
            if (bytes[i] != expected) Assert.Fail($"disk byte {i} (sector {i / Sector}) is 0x{bytes[i]:x2}, expected 0x{expected:x2}");
        }
    }

    [KvmFact]
    public void SelfTest_ThePatternTheGuestWrote_IsInTheImageFile_AtTheOffsetsItsBlobNamed()
    {
        var vm = Create(Definition("mode=selftest sector=37 count=5 seed=201 status=42\n"), "kit");
        string printed = RunToPowerOff(vm);

        Assert.Contains("Hello from the VirtShell guest kit", printed);
        Assert.Contains("kit: hypercall ABI 1", printed);
        Assert.Contains("kit: disk of 2048 sectors, read-write", printed);
        Assert.Contains("read back 5 sectors from sector 37: pattern verified", printed);
        Assert.Equal(ExitReason.GuestPowerOff, vm.LastExit!.Reason);
        Assert.Equal(42, vm.LastExit.Status);
        Assert.Contains("hypercalls: guest: kit: disk pattern verified", File.ReadAllText(Path.Combine(vm.Directory, MachineStore.LogFile)));
        AssertDiskHoldsPatternOnlyAt(DiskPath, 37, 5, 201);
    }

    [KvmFact]
    public void ABlobTheDefinitionDoesNotHave_GivesTheGuestNoSuchBlob_WhichItPrints()
    {
        var vm = Create(Definition("unused", changes: ("'kit-config':", "'another-name':")), "kit-noblob");
        string printed = RunToPowerOff(vm);

        Assert.Contains("kit: blob 'kit-config': error -5 (NO_SUCH_BLOB); using defaults", printed);
        // The defaults: the pattern with seed 90 on sectors 8 to 11, then status 42.
        Assert.Equal(42, vm.LastExit!.Status);
        AssertDiskHoldsPatternOnlyAt(DiskPath, 8, 4, 90);
    }

    [KvmFact]
    public void AReadOnlyDisk_RefusesTheGuestsWriteWithIoErr_AndTheImageStaysZero()
    {
        var vm = Create(Definition("mode=selftest\n", changes: ("irq: 6 })", "irq: 6, readOnly: true })")), "kit-ro");
        string printed = RunToPowerOff(vm);

        Assert.Contains("kit: disk of 2048 sectors, read-only", printed);
        Assert.Contains("kit: write of sector 8 failed: status 1 (IOERR)", printed);
        Assert.Equal(12, vm.LastExit!.Status); // EXIT_DISK_ERROR
        AssertDiskHoldsPatternOnlyAt(DiskPath, 0, 0, 0);
    }

    [KvmFact]
    public void AnImageInUseByARunningMachine_IsAClearStartError_AndFreeAgainWhenItStops()
    {
        var idle = Create(Definition("mode=idle\n", "idle.js"), "kit-idle");
        idle.Start();
        long offset = 0;
        GuestConsole.WaitForText(idle, ref offset, "kit: idle until turned off");

        var second = Create(Definition("mode=selftest\n"), "kit-second");
        var e = Assert.Throws<DefinitionException>(second.Start);
        Assert.Contains($"disk image '{DiskPath}' is in use by another machine", e.Message);
        Assert.EndsWith("kit-paravirtual.js", e.Location?.File); // and the line of the virtioBlk(...) that names it
        Assert.Equal(MachineState.Created, second.State);

        idle.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        AssertDiskHoldsPatternOnlyAt(DiskPath, 0, 0, 0); // (.NET's own reads respect the lock, so not before)
        RunToPowerOff(second);
        Assert.Equal(42, second.LastExit!.Status);
        AssertDiskHoldsPatternOnlyAt(DiskPath, 8, 4, 90);
    }

    [KvmFact] // starting asks for KVM before it opens the image
    public void AMissingImage_IsNamed_WhenTheMachineIsMade_AndWhenItStarts()
    {
        string definition = Definition("mode=selftest\n");
        var vm = Create(definition, "kit-missing");
        File.Delete(DiskPath);
        var e = Assert.Throws<DefinitionException>(vm.Start);
        Assert.Contains($"'image' {DiskPath} does not exist", e.Message);

        e = Assert.Throws<DefinitionException>(() => _host.Create(definition, "kit-missing-2"));
        Assert.Contains($"'image' {DiskPath} does not exist", e.Message);
    }

    [KvmFact]
    public void ASettingTheKitDoesNotKnow_EndsItWithItsBadConfigStatus()
    {
        var vm = Create(Definition("mode=selftest colour=blue\n"), "kit-badcfg");
        string printed = RunToPowerOff(vm);
        Assert.Contains("kit: kit-config: bad setting colour=blue", printed);
        Assert.Equal(14, vm.LastExit!.Status); // EXIT_BAD_CONFIG
    }
}
