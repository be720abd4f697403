using VirtShell.Devices;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Models.Hardware;
using VirtShell.Models.Pc;
using Xunit;

namespace VirtShell.Tests.Devices;

/// <summary>
/// The board every emulated and hardware PC has: PCI configuration mechanism #1 with the host bridge, the CMOS RTC,
/// the i8042 and (emulated only) port 0x61, as <see cref="PcPlatform"/> builds them; and the claims they make.
/// </summary>
public sealed class PcBoardTests : IDisposable
{
    private readonly ConsoleChannel _console = new(null);
    private readonly List<MachineExit> _exits = [];
    private readonly string _image = Path.Combine(Directory.CreateTempSubdirectory("virtshell-board-").FullName, "boot.bin");

    public PcBoardTests() => File.WriteAllBytes(_image, new byte[512]);

    public void Dispose()
    {
        _console.Dispose();
        Directory.Delete(Path.GetDirectoryName(_image)!, recursive: true);
    }

    private MachineSpec Spec(params DeviceSpec[] devices) => new()
    {
        Name = "board",
        Model = "emulated",
        MemoryBytes = 32 << 20,
        Devices = devices,
        Boot = new BootSpec { Image = _image },
    };

    private PcHardware Build(bool board = true) =>
        PcPlatform.Build(Spec(), new MachineServices(_console, _exits.Add, _ => { }), board: board);

    private static uint Config(PcHardware pc, int device, int function, int register, int size = 4)
    {
        pc.Ports.Write(0xCF8, 4, 0x8000_0000u | (uint)(device << 11 | function << 8 | register & 0xFC));
        return pc.Ports.Read((ushort)(0xCFC + (register & 3)), size);
    }

    private static DeviceSpec DebugExitAt(long port) =>
        new() { Type = "debugExit", Settings = new Dictionary<string, object?> { ["port"] = port } };

    /// <summary>Linux's pci_check_type1 and pci_sanity_check: CONFIG_ADDRESS reads back, and 00:00.0 is a host bridge.</summary>
    /// <summary>SeaBIOS knows QEMU by 00:00.0's subsystem, finds the IDE controller by class, and writes the PAM bytes.</summary>
    [Fact]
    public void AFirmwareBoot_GetsTheI440fxAndPiix3_ThatBiosesLookFor()
    {
        var rom = Path.Combine(Path.GetDirectoryName(_image)!, "bios.bin");
        File.WriteAllBytes(rom, new byte[64 << 10]);
        using var pc = PcPlatform.Build(Spec() with { Boot = new BootSpec { Image = rom, Kind = BootKind.Firmware } },
            new MachineServices(_console, _exits.Add, _ => { }));
        Assert.Equal(0x1237_8086u, Config(pc, 0, 0, 0x00));
        Assert.Equal(0x1100_1AF4u, Config(pc, 0, 0, 0x2C));          // QEMU's subsystem
        Assert.Equal(0x7000_8086u, Config(pc, 1, 0, 0x00));
        Assert.Equal(0x80u, Config(pc, 1, 0, 0x0E, 1));             // multi-function: the IDE is function 1
        Assert.Equal(0x7010_8086u, Config(pc, 1, 1, 0x00));
        Assert.Equal(0x0101_8000u, Config(pc, 1, 1, 0x08) & 0xFFFF_FF00); // IDE, legacy mode, bus master capable
        Config(pc, 0, 0, 0x59);
        pc.Ports.Write(0xCFD, 1, 0x30);                              // PAM0: F-segment read/write
        Assert.Equal(0x30u, Config(pc, 0, 0, 0x59, 1));
        // The BIOS writes its own MP table, and its EBDA where ours would be.
        Assert.DoesNotContain("_MP_", System.Text.Encoding.ASCII.GetString(pc.Memory.Read(0x9FC00, 0x400)));
    }

    [Fact]
    public void PciConfigurationMechanism1_FindsTheHostBridge()
    {
        using var pc = Build();
        pc.Ports.Write(0xCFB, 1, 0x01);
        pc.Ports.Write(0xCF8, 4, 0x8000_0000);
        Assert.Equal(0x8000_0000u, pc.Ports.Read(0xCF8, 4));
        Assert.Equal(0x0008_1B36u, pc.Ports.Read(0xCFC, 4));         // Red Hat's PCIe host bridge ID, as QEMU's
        pc.Ports.Write(0xCF8, 4, 0x8000_0008);
        Assert.Equal(0x0600u, pc.Ports.Read(0xCFE, 2));              // class: host bridge
        pc.Ports.Write(0xCF8, 4, 0x8000_0800);                       // 00:01.0: nothing there
        Assert.Equal(0xFFFF_FFFFu, pc.Ports.Read(0xCFC, 4));
    }

    [Fact]
    public void TheBoardsChips_AnswerTheirPorts()
    {
        using var pc = Build();
        pc.Ports.Write(0x70, 1, 0x0D);
        Assert.Equal(0x80u, pc.Ports.Read(0x71, 1));                 // RTC register D: valid RAM
        pc.Ports.Write(0x70, 1, 0x34);
        Assert.Equal(0x00u, pc.Ports.Read(0x71, 1));                 // (32 - 16) MiB in 64 KiB blocks: 0x0100
        pc.Ports.Write(0x70, 1, 0x35);
        Assert.Equal(0x01u, pc.Ports.Read(0x71, 1));
        pc.Ports.Write(0x64, 1, 0xAA);
        Assert.Equal(0x55u, pc.Ports.Read(0x60, 1));                 // i8042 self-test
        Assert.Equal(0u, pc.Ports.Read(0x61, 1) & 0x0F);             // port 0x61, everything off
    }

    [Fact]
    public void TheKeyboardControllersResetPulse_StopsTheMachineAsAGuestReset()
    {
        using var pc = Build();
        pc.Ports.Write(0x64, 1, 0xFE);
        var exit = Assert.Single(_exits);
        Assert.Equal(ExitReason.GuestReset, exit.Reason);
        Assert.False(exit.IsCrash);
        Assert.Contains("reset", exit.Detail);
    }

    [Fact]
    public void WithoutTheBoard_ThosePortsAreUnclaimed()
    {
        using var pc = Build(board: false);
        Assert.Equal(0xFFu, pc.Ports.Read(0x71, 1));
        Assert.Equal(0xFFu, pc.Ports.Read(0x64, 1));
        Assert.Equal(0xFFFF_FFFFu, pc.Ports.Read(0xCF8, 4));
    }

    [Theory]
    [InlineData(0x70L, "CMOS RTC")]
    [InlineData(0x64L, "i8042")]
    [InlineData(0xCFCL, "PCI host bridge")]
    [InlineData(0x61L, "PIT channel 2")]
    public void ADefinitionDeviceOnTheBoardsPorts_IsAConflictNamingTheChip(long port, string chip)
    {
        var e = Assert.Throws<DefinitionException>(() => PcPlatform.Validate(Spec(DebugExitAt(port))));
        Assert.Contains("port conflict", e.Message);
        Assert.Contains(chip, e.Message);
    }

    [Theory]
    [InlineData(0x70L, "CMOS RTC")]
    [InlineData(0x60L, "i8042")]
    [InlineData(0xCF8L, "PCI host bridge")]
    [InlineData(0x61L, "in-kernel system control port B")]
    public void OnTheHardwareModel_TheBoardsPortsAreOursAndPort61IsTheKernels(long port, string owner)
    {
        var e = Assert.Throws<DefinitionException>(() => new HardwareModel().Validate(Spec(DebugExitAt(port)) with { Model = "hardware" }));
        Assert.Contains(owner, e.Message);
    }

    [Fact]
    public void WithoutTheBoard_ADeviceMayUseThosePorts()
    {
        PcPlatform.Validate(Spec(DebugExitAt(0x70)), board: false);
    }
}
