using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;

namespace VirtShell.Tests.Engine;

public class MachineStoreTests
{
    private static MachineRecord Record(string name, string? definition = null) => new()
    {
        Name = name,
        Spec = new MachineSpec { Name = name, Model = "emulated", MemoryBytes = 1 << 20, DefinitionPath = definition },
    };

    [Fact]
    public void A_machine_folder_holds_its_record_and_a_copy_of_its_definition()
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        string def = Path.Combine(store.Home, "hello.js");
        File.WriteAllText(def, "export default 1;");
        store.Create(Record("h1", def));
        var loaded = store.Load("h1")!;
        Assert.Equal("export default 1;", File.ReadAllText(store.StoredDefinitionPath(loaded)!));
        Assert.StartsWith(store.MachineDirectory("h1") + "/definition-", store.StoredDefinitionPath(loaded));
        Assert.Equal("h1", loaded.Name);
        Assert.Equal(MachineState.Created, loaded.State);
        Assert.Equal(["h1"], store.Names());
    }

    [Fact]
    public void A_name_that_is_taken_is_refused_and_the_first_machine_is_untouched()
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        store.Create(Record("h1") with { CreatedAt = DateTimeOffset.UnixEpoch });
        Assert.Throws<MachineExistsException>(() => store.Create(Record("h1")));
        Assert.Equal(DateTimeOffset.UnixEpoch, store.Load("h1")!.CreatedAt);
        Assert.Equal(["h1"], Directory.EnumerateFileSystemEntries(store.MachinesDirectory).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("")]
    [InlineData("../escape")]
    [InlineData("a/b")]
    [InlineData(".hidden")]
    public void Names_that_are_not_folder_names_are_refused(string name)
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        Assert.Throws<ArgumentException>(() => store.Create(Record(name)));
        Assert.Empty(Directory.EnumerateFileSystemEntries(store.MachinesDirectory));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Saving_replaces_the_record_whole_and_leaves_no_temp_files(bool durable)
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        store.Create(Record("h1"));
        store.Save(store.Load("h1")! with { State = MachineState.Stopped, LastExit = new MachineExit(ExitReason.DebugExit, 1) }, durable);
        var loaded = store.Load("h1")!;
        Assert.Equal(MachineState.Stopped, loaded.State);
        Assert.Equal(1, loaded.LastExit!.Status);
        string[] expected = durable ? ["machine.json"] : ["machine.json", "machine.json.durable"];
        Assert.Equal(expected, Directory.EnumerateFiles(store.MachineDirectory("h1")).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_record_saved_without_fsync_that_comes_back_empty_falls_back_to_the_last_durable_one()
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        store.Create(Record("h1"));
        string file = Path.Combine(store.MachineDirectory("h1"), "machine.json");
        store.Save(store.Load("h1")! with { State = MachineState.Stopped }, durable: true);
        store.Save(store.Load("h1")! with { State = MachineState.Starting }, durable: false);
        store.Save(store.Load("h1")! with { State = MachineState.Running }, durable: false);

        File.WriteAllBytes(file, []); // what XFS may leave of an unsynced rename after a power cut
        Assert.Equal(MachineState.Stopped, store.Load("h1")!.State);

        store.Save(store.Load("h1")! with { State = MachineState.Crashed }, durable: true);
        Assert.Equal(MachineState.Crashed, store.Load("h1")!.State);
        Assert.False(File.Exists(file + ".durable"));
    }

    [Fact]
    public void A_damaged_record_is_reported_with_its_path()
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        store.Create(Record("h1"));
        File.WriteAllText(Path.Combine(store.MachineDirectory("h1"), "machine.json"), "{ not json");
        var e = Assert.Throws<DefinitionException>(() => store.Load("h1"));
        Assert.Contains("machine.json", e.Message);
    }

    [Fact]
    public void Removal_leaves_nothing_behind()
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        store.Create(Record("h1"));
        store.Delete("h1");
        Assert.Empty(Directory.EnumerateFileSystemEntries(store.MachinesDirectory));
    }
}
