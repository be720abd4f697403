using VirtShell.Devices.Display;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;

namespace VirtShell.Devices;

/// <summary>
/// <c>vgaText({ rom: '/usr/share/vgabios/vgabios.bin' })</c>: enough of a VGA for firmware that prints through the
/// BIOS teletype: a VGA BIOS option ROM at 0xC0000 (found and run by the system BIOS's option-ROM scan), the VGA
/// registers it programs (<see cref="VgaRegisters"/>), and the text screen at 0xB8000 turned into console lines
/// (<see cref="TextLineCapture"/>).
/// </summary>
/// <remarks>
/// The ROM and the screen live in the machine's RAM below 1 MiB, as the BIOS area does (FirmwareLoader): the ROM is
/// copied in when the machine is built, as shadow RAM holds it on a PC, and the screen is read from RAM whenever the
/// cursor is set. An MMIO claim would need a hole in the RAM block at 0, which every CPU backend reads directly.
/// </remarks>
public sealed class VgaTextDeviceType : IDeviceType
{
    public const string DefaultRom = "/usr/share/vgabios/vgabios.bin";
    public const ulong RomAddress = 0xC0000, TextBuffer = 0xB8000;
    /// <summary>Option ROMs end where the firmware's low copy may start (E0000).</summary>
    private const int MaxRomSize = 0x20000;
    /// <summary>Colour text mode's video memory, 0xB8000-0xBFFFF, in which the display start wraps.</summary>
    private const int TextWindow = 0x8000;
    private const int ScreenBytes = TextLineCapture.Columns * TextLineCapture.Rows * 2;

    public string Name => "vgaText";

    public void Validate(DeviceSpec spec)
    {
        DeviceSettings.RejectUnknown(spec, "rom");
        ReadRom(spec);
    }

    public IEnumerable<(ushort First, int Count)> Ports(DeviceSpec spec) => [(VgaRegisters.FirstPort, VgaRegisters.PortCount)];

    public IDisposable? Attach(DeviceSpec spec, DeviceContext context)
    {
        var rom = ReadRom(spec);
        var memory = context.Memory;
        if (!memory.IsRam(TextBuffer, RomAddress + (ulong)rom.Length - TextBuffer))
            throw DeviceSettings.Error(spec, $"needs RAM up to 0x{RomAddress + (ulong)rom.Length:x} for the screen and the ROM: give the machine at least 1M of memory");
        memory.Write(RomAddress, rom);
        var console = context.Services.Console;
        var capture = new TextLineCapture(line => console.WriteFromGuest(System.Text.Encoding.ASCII.GetBytes(line + "\r\n")));
        var registers = new VgaRegisters((cursor, start) =>
        {
            ulong screen = TextBuffer + (ulong)(start * 2 % TextWindow);
            if (memory.IsRam(screen, ScreenBytes)) capture.CursorMoved(cursor - start, memory.GetSpan(screen, ScreenBytes));
        });
        context.Ports.Register(VgaRegisters.FirstPort, VgaRegisters.PortCount, registers, spec.Describe());
        return null;
    }

    private static string RomPath(DeviceSpec spec) =>
        ParavirtualSettings.FilePath(spec, ParavirtualSettings.String(spec, "rom") ?? DefaultRom);

    private static byte[] ReadRom(DeviceSpec spec)
    {
        var path = RomPath(spec);
        if (!File.Exists(path))
            throw DeviceSettings.Error(spec, $"'rom' {path} does not exist (Debian package vgabios)");
        var length = new FileInfo(path).Length;
        if (length < 3 || length > MaxRomSize)
            throw DeviceSettings.Error(spec, $"'rom' {path} is {length} bytes: an option ROM is between 3 bytes and {MaxRomSize >> 10} KiB");
        var rom = File.ReadAllBytes(path);
        if (rom[0] != 0x55 || rom[1] != 0xAA)
            throw DeviceSettings.Error(spec, $"'rom' {path} is not an option ROM (it does not start with 55 AA)");
        return rom;
    }
}
