using System.Formats.Tar;
using System.Text;
using VirtShell.Engine.Checkpoints;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.State;

/// <summary>Exports read back only as written: an archive that lists or holds anything else is refused before a machine appears.</summary>
public sealed class MachineArchiveTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("virtshell-archive-").FullName;
    private readonly VirtualizationHost _host;

    public MachineArchiveTests() => _host = TestDefinitions.Host(new MachineStore(_home));

    public void Dispose() => Directory.Delete(_home, recursive: true);

    /// <summary>An export of the counting guest at rest, its entries read back as (name, bytes).</summary>
    private List<(string Name, byte[] Data)> ExportEntries()
    {
        var machine = _host.Create(SavedStateRig.Definition(SavedStateGuestTests.CountingGuest), "counting");
        string file = Path.Combine(_home, "counting.vsx");
        machine.Export(file);
        using var tar = new TarReader(File.OpenRead(file));
        var entries = new List<(string, byte[])>();
        while (tar.GetNextEntry() is { } entry)
        {
            var data = new MemoryStream();
            entry.DataStream?.CopyTo(data);
            entries.Add((entry.Name, data.ToArray()));
        }
        return entries;
    }

    private string Write(IEnumerable<(string Name, byte[] Data)> entries)
    {
        string file = Path.Combine(_home, $"{Guid.NewGuid():N}.vsx");
        using var output = File.Create(file);
        using var tar = new TarWriter(output, TarEntryFormat.Pax);
        foreach (var (name, data) in entries)
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data) });
        return file;
    }

    private string[] MachineFolders() => [.. Directory.EnumerateFileSystemEntries(_host.Store.MachinesDirectory).Select(Path.GetFileName).Order()!];

    [Fact]
    public void An_export_reads_back_as_a_machine_of_its_own_and_its_manifest_comes_first()
    {
        var entries = ExportEntries();
        Assert.Equal(MachineArchive.ManifestEntry, entries[0].Name);
        Assert.Contains(entries, e => e.Name == "definition/guest.bin");
        var copy = MachineArchive.Import(_host, Write(entries), "copy");
        Assert.Equal(MachineState.Created, copy.State);
        Assert.StartsWith(Path.Combine(_host.Store.MachineDirectory("copy"), "definition"), copy.Spec.Boot!.Image);
    }

    [Fact]
    public void An_export_carries_the_hypercall_blobs_in_the_definitions_folder_and_the_import_reads_its_own()
    {
        string definition = SavedStateRig.Definition(SavedStateGuestTests.CountingGuest,
            extraDevices: "hypercalls({ blobs: { greeting: './greeting.txt' } })");
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(definition)!, "greeting.txt"), "hello");
        _host.Create(definition, "blobs");
        string file = Path.Combine(_home, "blobs.vsx");
        // As another process sees the machine: its spec read back from machine.json.
        TestDefinitions.Host(new MachineStore(_home)).Find("blobs")!.Export(file);

        MachineArchive.Import(_host, file, "copy");
        Assert.Equal("hello", File.ReadAllText(Path.Combine(_host.Store.MachineDirectory("copy"), "definition", "greeting.txt")));
    }

    [Fact]
    public void An_entry_the_manifest_does_not_list_is_refused_and_no_machine_appears()
    {
        var entries = ExportEntries();
        var before = MachineFolders();
        string file = Write([.. entries, ("definition/extra.js", "export default 1;"u8.ToArray())]);
        var e = Assert.Throws<ExportFormatException>(() => MachineArchive.Import(_host, file, "copy"));
        Assert.Contains("'definition/extra.js' is not one its manifest lists", e.Message);
        Assert.Contains(file, e.Message);
        Assert.Equal(before, MachineFolders());
    }

    [Fact]
    public void A_manifest_that_names_a_path_outside_the_export_is_refused_before_anything_is_written()
    {
        var entries = ExportEntries();
        var before = MachineFolders();
        string manifest = Encoding.UTF8.GetString(entries[0].Data).Replace("\"definition/guest.bin\"", "\"definition/../../../escaped.bin\"");
        string file = Write([(entries[0].Name, Encoding.UTF8.GetBytes(manifest)), .. entries.Skip(1)]);
        var e = Assert.Throws<ExportFormatException>(() => MachineArchive.Import(_host, file, "copy"));
        Assert.Contains("'definition/../../../escaped.bin' is not a path inside the export", e.Message);
        Assert.Equal(before, MachineFolders());
        Assert.False(File.Exists(Path.Combine(_home, "escaped.bin")));
    }
}
