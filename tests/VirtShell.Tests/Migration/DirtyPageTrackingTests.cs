using System.Buffers.Binary;
using VirtShell.Cpu.Interpreter;
using VirtShell.Devices.Storage;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Memory;
using VirtShell.Models.Emulated;
using VirtShell.Tests.Devices;
using VirtShell.Tests.Models;
using VirtShell.Tests.State;
using VirtShell.Tests.Virtio;

namespace VirtShell.Tests.Migration;

/// <summary>
/// The emulated model's dirty-page log: every page whose bytes changed while it ran is in the collected set, whichever
/// path wrote it (the interpreter's stores, the translator's inline stores, REP STOS, a device's DMA).
/// </summary>
public sealed class DirtyPageTrackingTests
{
    internal static readonly string Scribbler = File.ReadAllText(RepoPaths.MachineDef("guests/scribbler.asm"));

    /// <summary>A definition running the scribbler in 8 MiB on <paramref name="tier"/>, compiling every block at once on the translator.</summary>
    internal static string ScribblerDefinition(string tier)
    {
        string path = SavedStateRig.Definition(Scribbler, memory: "8M");
        string cpu = tier == "translator" ? "cpu: { tier: 'translator', compileThreshold: 1 }," : $"cpu: {{ tier: '{tier}' }},";
        File.WriteAllText(path, File.ReadAllText(path).Replace("boot:", $"{cpu}\n  boot:"));
        return path;
    }

    [Theory]
    [InlineData("interpreter")]
    [InlineData("translator")]
    public void Every_page_a_running_guest_changed_is_in_the_collected_set(string tier)
    {
        using var definition = TestDefinitions.Loader().Load(ScribblerDefinition(tier));
        using var machine = SavedStateRig.Boot(definition);
        machine.WaitFor(text => text.Count(c => c == '.') >= 2, "two dots of writing");
        var tracking = Assert.IsAssignableFrom<IDirtyPageTracking>(machine.Runtime.DirtyPageTracking);
        var memory = machine.Runtime.Memory;
        var block = Assert.Single(memory.Blocks);

        for (int look = 0; look < 3; look++)
        {
            machine.Runtime.Pause();
            var before = memory.Read(0, (int)block.Size);
            tracking.StartDirtyTracking();
            machine.Runtime.Resume();
            string output = machine.Output();
            machine.WaitFor(text => text.Length > output.Length + 3, "two more dots");
            machine.Runtime.Pause();
            var dirty = tracking.CollectDirtyPages();
            tracking.StopDirtyTracking();
            var after = memory.Read(0, (int)block.Size);
            machine.Runtime.Resume();

            Assert.Equal(dirty.Order(), dirty);
            var logged = dirty.ToHashSet();
            int changed = 0;
            for (int page = 0; page < before.Length / 4096; page++)
            {
                if (before.AsSpan(page * 4096, 4096).SequenceEqual(after.AsSpan(page * 4096, 4096))) continue;
                changed++;
                Assert.True(logged.Contains((ulong)page), $"page 0x{page:x} changed but is not in the {dirty.Count} pages logged ({tier}, look {look})");
            }
            Assert.True(changed > 500, $"the guest changed only {changed} pages");
        }
        if (tier == "translator")
            Assert.True(((InterpreterCpu)machine.Runtime.Cpu).Translation.Blocks > 0, "the translator compiled nothing, so its stores were not checked");
    }

    [Fact]
    public void A_virtio_blk_read_into_RAM_marks_the_pages_it_filled_and_the_used_ring()
    {
        const ulong Base = 0xD000_0000, Header = 0x80000, Status = 0x80100, Buffer = 0x92000;
        string folder = Directory.CreateTempSubdirectory("virtshell-dirty-").FullName;
        try
        {
            string path = Path.Combine(folder, "disk.img");
            var disk = new byte[64 * 512];
            new Random(3).NextBytes(disk);
            File.WriteAllBytes(path, disk);
            using var memory = new GuestMemory();
            memory.AddRam(0, 0x20_0000);
            var bus = new MmioBus();
            using var device = new VirtioBlock("virtioBlk", memory, DiskImage.Open(path, readOnly: true), "vs-disk-0", _ => { });
            bus.Register(Base, VirtioMmioTransport.WindowSize, new VirtioMmioTransport(device, Base, 6, new RecordingInterrupts()), "virtioBlk");
            var driver = new GuestDriver(memory, bus, Base);
            Assert.True(driver.Negotiate(driver.DeviceFeatures()));
            driver.SetupQueue(0, 16, 0x10000);
            driver.DriverOk();
            var header = new byte[16];
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), 8);
            memory.Write(Header, header);
            driver.AddChain(0, [new Desc(Header, 16), new Desc(Buffer - 512, 3 * 4096, Desc.Write), new Desc(Status, 1, Desc.Write)]);

            var before = memory.Read(0, 0x20_0000);
            memory.StartDirtyLog();
            driver.Notify(0);
            var dirty = memory.CollectDirtyLog();
            memory.StopDirtyLog();
            var after = memory.Read(0, 0x20_0000);

            Assert.Single(driver.TakeUsed(0));
            var changed = Enumerable.Range(0, 0x200).Where(p => !before.AsSpan(p * 4096, 4096).SequenceEqual(after.AsSpan(p * 4096, 4096))).Select(p => (ulong)p).ToList();
            // The data's four pages (the buffer starts 512 bytes into one), the status byte's and the used ring's.
            Assert.True(changed.Count >= 5, $"only pages {string.Join(", ", changed.Select(p => $"0x{p:x}"))} changed");
            Assert.Empty(changed.Except(dirty));
            Assert.Contains((Buffer - 512) / 4096, dirty);
            Assert.Contains((Buffer + 3 * 4096 - 513) / 4096, dirty);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
