using VirtShell.Engine.State;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.State;

/// <summary>A guest saved mid-run goes on, in a machine built afresh from the saved state, exactly where it was.</summary>
public class SavedStateGuestTests
{
    /// <summary>
    /// machine-defs/guests/counting.asm: counts on the serial port, one line per two PIT ticks, keeping the count in
    /// EBX and in x87 ST(0); a mismatch, or a HLT that ends without a tick, prints FAIL and exits.
    /// </summary>
    internal static readonly string CountingGuest = File.ReadAllText(RepoPaths.MachineDef("guests/counting.asm"));

    /// <summary>The numbers 0, 1, 2... one a line, with nothing missing or twice, in <paramref name="text"/>'s complete lines.</summary>
    internal static int CountedLines(string text)
    {
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length - 1; i++)
            Assert.True(lines[i] == i.ToString(), $"line {i} reads '{lines[i]}': the count is broken in:\n{text}");
        return lines.Length - 1;
    }

    [Fact]
    public void A_counting_guest_goes_on_after_save_and_restore_in_a_fresh_runtime_without_a_gap_or_a_repeat()
    {
        using var definition = TestDefinitions.Loader().Load(SavedStateRig.Definition(CountingGuest));
        byte[] saved;
        string before;
        using (var first = SavedStateRig.Boot(definition))
        {
            first.WaitFor(text => text.Split('\n').Length > 30, "30 lines");
            saved = first.PauseAndSave();
            before = first.Output();
        }
        Assert.True(CountedLines(before) >= 30);

        var state = SavedState.Read(new MemoryStream(saved));
        Assert.Equal("emulated", state.Model);
        using var second = SavedStateRig.Restore(definition, state);
        string after = second.WaitFor(text => text.Split('\n').Length > 30, "30 more lines");
        // (A line cut by the save goes on in the restored console: "...3" then "0\n31\n".)
        Assert.False(after.StartsWith("0\n1\n"), "the restored machine booted afresh instead of going on");
        int total = CountedLines(before + after);
        Assert.True(total >= before.Split('\n').Length - 1 + 29);
        Assert.DoesNotContain("FAIL", before + after);
    }

    [Fact]
    public void A_state_saved_twice_from_one_pause_is_the_same_bytes_but_for_the_timestamps_it_carries()
    {
        using var definition = TestDefinitions.Loader().Load(SavedStateRig.Definition(CountingGuest));
        using var machine = SavedStateRig.Boot(definition);
        machine.WaitFor(text => text.Split('\n').Length > 5, "5 lines");
        var one = SavedState.Read(new MemoryStream(machine.PauseAndSave()));
        var file = new MemoryStream();
        machine.Runtime.SaveState(file);
        var two = SavedState.Read(new MemoryStream(file.ToArray()));
        Assert.Equal(one.SectionNames, two.SectionNames);
        Assert.Equal(one.Find("memory"), two.Find("memory"));
        Assert.Equal(one.Find("port 0x3f8"), two.Find("port 0x3f8"));
        Assert.Contains("cpu", one.SectionNames);
        Assert.Contains("port 0x20", one.SectionNames);   // the 8259 pair
        Assert.Contains("mmio 0xfec00000", one.SectionNames); // the APICs
    }

    /// <summary>Writes Z to the script device once, then prints what it reads back, a line at a time.</summary>
    private const string ScriptDeviceGuest = """
        bits 16
        org 0x7c00
            mov dx, 0x510
            mov al, 'Z'
            out dx, al
        again:
            mov dx, 0x510
            in al, dx
            mov dx, 0x3f8
            out dx, al
            mov al, 10
            out dx, al
            mov ecx, 200000
        delay:
            dec ecx
            jnz delay
            jmp again
        """;

    [Fact]
    public void A_script_device_saves_its_state_through_saveState_and_gets_it_back_in_a_fresh_engine()
    {
        const string device = "scriptDevice({ ports: [0x510], read() { return value; }, write(port, size, v) { value = v; }, "
            + "saveState() { return { value }; }, restoreState(state) { value = state.value; } })";
        string path = SavedStateRig.Definition(ScriptDeviceGuest, extraDevices: device);
        File.WriteAllText(path, File.ReadAllText(path).Replace("export default", "let value = 0x61;\nexport default"));
        byte[] saved;
        using (var definition = TestDefinitions.Loader().Load(path))
        using (var first = SavedStateRig.Boot(definition))
        {
            Assert.StartsWith("Z\n", first.WaitFor(text => text.Length > 6, "three lines"));
            saved = first.PauseAndSave();
        }
        // A second load is a second V8 engine, whose device starts at 'a' again until restoreState runs.
        using var again = TestDefinitions.Loader().Load(path);
        using var second = SavedStateRig.Restore(again, SavedState.Read(new MemoryStream(saved)));
        string after = second.WaitFor(text => text.Length > 6, "three more lines");
        Assert.StartsWith("Z\n", after);
        Assert.DoesNotContain("a", after);
    }
}
