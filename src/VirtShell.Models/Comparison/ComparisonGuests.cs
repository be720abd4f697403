using System.Buffers.Binary;

namespace VirtShell.Models.Comparison;

/// <summary>A comparison that cannot be run as asked: a guest not built, a folder that is not a guests folder.</summary>
public sealed class ComparisonException(string message) : Exception(message);

/// <summary>What <c>machine-defs/guests/ring3-loop.asm</c> does in its loop (the KIND byte of its parameter block).</summary>
public enum Ring3LoopKind : byte
{
    /// <summary>The CPU benchmark's 10-instruction round.</summary>
    Cpu = 0,
    /// <summary>OUT to an unclaimed port: one VM exit each.</summary>
    PortExits = 1,
    /// <summary>A byte to COM1 after polling LSR.</summary>
    UartBytes = 2,
    /// <summary>A write to the QueueNotify register of the virtio-mmio window at 0xD0000000.</summary>
    VirtioNotify = 3,
}

/// <summary>
/// The project's built guests (machine-defs/guests) that Compare-VirtModel runs, and copies of the ring-3 loop with
/// its parameter block set: the same image serves the CPU, exit, console and notify measures on every VM model.
/// </summary>
public sealed class ComparisonGuests
{
    public const string Ring3Loop = "ring3-loop.bin";
    public const string LinuxLoop = "ring3-loop-linux.bin";
    public const string Hello = "hello.bin";
    public const string Kit = "kit/kit.bin";

    /// <summary>Where ring3-loop.asm keeps its iteration count (a qword), kind (a byte) and the tag "LOOP".</summary>
    private const int IterationsOffset = 0x1F0, KindOffset = 0x1F8, TagOffset = 0x1F9;

    public ComparisonGuests(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new ComparisonException($"the guests folder '{directory}' does not exist");
        Directory = Path.GetFullPath(directory);
    }

    public string Directory { get; }

    /// <summary>
    /// The machine-defs/guests folder of the checkout nearest to one of <paramref name="startDirectories"/> (each
    /// and its parents are tried), or null.
    /// </summary>
    public static string? Locate(IEnumerable<string> startDirectories)
    {
        foreach (var start in startDirectories)
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                string guests = Path.Combine(dir.FullName, "machine-defs", "guests");
                if (File.Exists(Path.Combine(guests, "ring3-loop.asm"))) return guests;
            }
        return null;
    }

    /// <summary>The full path of a built guest, or an error that says how to build it.</summary>
    public string Require(string relativePath)
    {
        string path = Path.Combine(Directory, relativePath);
        if (!File.Exists(path))
            throw new ComparisonException($"{path} is not built (./build.ps1 -Task Build)");
        return path;
    }

    /// <summary>ring3-loop.bin with its loop set to <paramref name="kind"/>, <paramref name="iterations"/> times.</summary>
    public byte[] Ring3LoopImage(Ring3LoopKind kind, long iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        string path = Require(Ring3Loop);
        byte[] image = File.ReadAllBytes(path);
        if (image.Length != 512 || !image.AsSpan(TagOffset, 4).SequenceEqual("LOOP"u8))
            throw new ComparisonException($"{path} has no parameter block (the tag 'LOOP' at 0x{TagOffset:X}): rebuild it (./build.ps1 -Task Build)");
        BinaryPrimitives.WriteInt64LittleEndian(image.AsSpan(IterationsOffset), iterations);
        image[KindOffset] = (byte)kind;
        return image;
    }
}
