using System.Text;
using VirtShell.Engine.Console;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Tests.Models;
using VirtShell.Tests.Scripting;

namespace VirtShell.Tests.Engine;

/// <summary>Receive-VirtConsole's reading as the engine does it, on the console.log of a machine at rest.</summary>
public class ConsoleLineSearchTests
{
    private static Machine MachineWithLog(TempFolder home, string log)
    {
        string definition = Path.Combine(home.Path, "vm.js");
        File.WriteAllText(definition, """
            import { machine } from 'virtshell';
            export default machine({ name: 'logged', model: 'emulated', memory: '1M', boot: { image: './guests/hello.bin' } });
            """);
        var machine = TestDefinitions.Host(new MachineStore(Path.Combine(home.Path, "store"))).Create(definition);
        File.WriteAllText(machine.ConsoleLogPath, log, new UTF8Encoding(false));
        return machine;
    }

    [Fact]
    public void A_pattern_answers_where_its_line_ends_and_the_range_up_to_it_comes_back_as_lines()
    {
        using var home = new TempFolder();
        var machine = MachineWithLog(home, "boot\r\nlogin: root\r\n# ls\r\nbin\r\n");

        var match = ConsoleLineSearch.Read(machine, new ConsoleLineQuery { Pattern = "^# " }, default);
        Assert.Equal(ConsoleLineOutcome.Matched, match.Outcome);
        Assert.Equal(new ConsoleCursor("boot\r\nlogin: root\r\n# ls\r\n".Length, false), match.Next);

        var lines = ConsoleLineSearch.Read(machine, new ConsoleLineQuery { Until = match.Next.Offset }, default);
        Assert.Equal(ConsoleLineOutcome.Lines, lines.Outcome);
        Assert.Equal(["boot", "login: root", "# ls"], lines.Lines);
        Assert.Equal(match.Next, lines.Next);
    }

    [Fact]
    public void Without_a_pattern_the_lines_come_from_the_cursor_a_partial_last_one_included()
    {
        using var home = new TempFolder();
        var machine = MachineWithLog(home, "one\r\ntwo\r\nprompt> ");

        var first = ConsoleLineSearch.Read(machine, new ConsoleLineQuery { From = new ConsoleCursor(5, false) }, default);
        Assert.Equal(["two", "prompt> "], first.Lines);
        Assert.Equal(new ConsoleCursor(18, true), first.Next);

        var none = ConsoleLineSearch.Read(machine, new ConsoleLineQuery { From = first.Next }, default);
        Assert.Equal(ConsoleLineOutcome.Ended, none.Outcome);
    }

    [Fact]
    public void An_unmatched_pattern_on_a_machine_at_rest_ends_saying_what_was_received()
    {
        using var home = new TempFolder();
        var machine = MachineWithLog(home, "alpha\r\nbeta\r\ngam");

        var result = ConsoleLineSearch.Read(machine, new ConsoleLineQuery { Pattern = "never" }, default);

        Assert.Equal(ConsoleLineOutcome.Ended, result.Outcome);
        Assert.Equal(3, result.LinesReceived);
        Assert.Equal("received:\nalpha\nbeta\ngam", result.Received);
        Assert.Equal(new ConsoleCursor(13, false), result.Search!.At); // past the complete lines; "gam" may grow yet
    }
}
