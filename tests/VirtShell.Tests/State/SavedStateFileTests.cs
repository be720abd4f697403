using VirtShell.Engine.State;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.State;

/// <summary>
/// Bad saved states — foreign, truncated, corrupt, newer, of another machine — are refused with a message that says
/// which, before anything runs; a machine whose devices cannot save refuses to write one.
/// </summary>
public class SavedStateFileTests
{
    private static readonly Lazy<(VirtShell.Engine.Definitions.LoadedDefinition Definition, byte[] State)> Counting = new(() =>
    {
        var definition = TestDefinitions.Loader().Load(SavedStateRig.Definition(SavedStateGuestTests.CountingGuest));
        using var machine = SavedStateRig.Boot(definition);
        machine.WaitFor(text => text.Contains("3\n"), "a few lines");
        return (definition, machine.PauseAndSave());
    });

    private static byte[] State => Counting.Value.State;

    private static StateFormatException Refused(byte[] file) =>
        Assert.Throws<StateFormatException>(() => SavedState.Read(new MemoryStream(file)));

    [Fact]
    public void A_file_that_is_not_a_saved_state_is_called_foreign()
    {
        Assert.Contains("not a VirtShell saved state", Refused("#!/bin/sh\necho hello\n"u8.ToArray()).Message);
        Assert.Contains("not a VirtShell saved state", Refused([]).Message);
    }

    [Fact]
    public void A_newer_format_version_is_refused_naming_both_versions()
    {
        byte[] newer = State.ToArray();
        newer[8] = SavedState.FormatVersion + 1;
        var e = Refused(newer);
        Assert.Contains($"format version {SavedState.FormatVersion + 1} is newer than this VirtShell reads (up to {SavedState.FormatVersion})", e.Message);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(100)]
    [InlineData(1000)]
    [InlineData(-1)]
    [InlineData(-9)]
    public void A_truncated_file_is_refused_wherever_it_was_cut(int keep)
    {
        byte[] cut = keep > 0 ? State[..keep] : State[..^-keep];
        Assert.Contains("truncated", Refused(cut).Message);
    }

    [Fact]
    public void A_changed_byte_in_any_section_fails_its_checksum_and_the_message_names_the_section()
    {
        byte[] damaged = State.ToArray();
        damaged[damaged.Length / 2] ^= 0x10;
        var e = Refused(damaged);
        Assert.Matches("section '.+' is corrupt \\(its checksum does not match\\)|the header is corrupt", e.Message);
    }

    [Fact]
    public void Load_puts_the_file_name_before_the_problem()
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory().FullName, "cut.vsstate");
        File.WriteAllBytes(path, State[..200]);
        var e = Assert.Throws<StateFormatException>(() => SavedState.Load(path));
        Assert.StartsWith($"{path}: ", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Save_then_Load_gives_the_same_sections()
    {
        var state = SavedState.Read(new MemoryStream(State));
        string path = Path.Combine(Directory.CreateTempSubdirectory().FullName, "machine.vsstate");
        state.Save(path);
        var loaded = SavedState.Load(path);
        Assert.Equal(state.SectionNames, loaded.SectionNames);
        foreach (var name in state.SectionNames) Assert.Equal(state.Find(name), loaded.Find(name));
        Assert.Equal(SavedState.CurrentEngineVersion, loaded.EngineVersion);
    }

    [Fact]
    public void A_state_of_another_model_or_another_definition_is_refused_before_the_machine_runs()
    {
        var state = SavedState.Read(new MemoryStream(State));
        var other = new SavedState("hardware");
        foreach (var name in state.SectionNames) other.Add(name, state.Find(name));
        Assert.Contains("is of a 'hardware' machine, not 'emulated'",
            Assert.Throws<StateFormatException>(() => SavedStateRig.Restore(Counting.Value.Definition, other)).Message);

        using var withSecondUart = TestDefinitions.Loader().Load(SavedStateRig.Definition(SavedStateGuestTests.CountingGuest,
            extraDevices: "uart16550({ port: 0x2f8, irq: 3 })"));
        var e = Assert.Throws<StateFormatException>(() => SavedStateRig.Restore(withSecondUart, state));
        Assert.Contains("no section for", e.Message);
        Assert.Contains("port 0x2f8", e.Message);
    }

    [Fact]
    public void A_damaged_section_that_passes_its_checksum_still_cannot_set_an_impossible_value()
    {
        var state = SavedState.Read(new MemoryStream(State));
        var bad = new SavedState(state.Model);
        foreach (var name in state.SectionNames) bad.Add(name, name == "port 0x3f8" ? [1, 2, 3] : state.Find(name));
        var e = Assert.Throws<StateFormatException>(() => SavedStateRig.Restore(Counting.Value.Definition, bad));
        Assert.StartsWith("section 'port 0x3f8':", e.Message);
    }

    [Fact]
    public void A_script_device_without_state_hooks_makes_a_save_refuse_naming_it_and_its_line()
    {
        using var definition = TestDefinitions.Loader().Load(SavedStateRig.Definition(SavedStateGuestTests.CountingGuest,
            extraDevices: "scriptDevice({ ports: [0x510], read() { return 0; }, write() {} })"));
        using var machine = SavedStateRig.Boot(definition);
        machine.WaitFor(text => text.Contains("1\n"), "a line");
        var e = Assert.Throws<StateNotSupportedException>(() => machine.PauseAndSave());
        Assert.Matches("the scriptDevice at .*machine.js:4.* has no saveState\\(\\) and restoreState\\(\\)", e.Message);
    }
}
