using System.Management.Automation;
using System.Management.Automation.Runspaces;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Remoting;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// Attaches this terminal to a running machine's console, as <c>virsh console</c> does: the guest's output is shown
/// as it comes and keys go to the guest in raw mode until Ctrl+] detaches. The output starts where this session's
/// console cursor is (what it has not received yet) and the cursor moves past what was shown. A machine on another
/// host is attached through its session (<see cref="RemoteConsole"/>), one machine after another.
/// </summary>
[Cmdlet(VerbsCommon.Enter, "VirtConsole", DefaultParameterSetName = ByName)]
[OutputType(typeof(void))]
public sealed class EnterVirtConsoleCommand : MachineCmdlet
{
    /// <summary>Shows the output kept from the start (console.log), not from the cursor.</summary>
    [Parameter]
    public SwitchParameter FromStart { get; set; }

    protected override void ProcessRemote(IReadOnlyList<PSSession> sessions)
    {
        var names = ForwardedParameters()[nameof(Name)];
        foreach (var session in sessions)
        {
            // Names are resolved there first (wildcards, and an error naming the host for one it has not).
            var found = Remote.Run([session], "Get-VirtMachine", new Dictionary<string, object?> { [nameof(Name)] = names })[0];
            foreach (var error in found.Errors) WriteError(error);
            foreach (var machine in found.Output)
            {
                string name = (string)machine.Properties[nameof(Machine.Name)].Value;
                Attach(name, $" on host {session.ComputerName}", (input, output) => RemoteConsole.Attach(this, Remote, session, name, FromStart, input, output));
            }
        }
    }

    protected override void Process(Machine machine)
    {
        WriteVerboseCall("Attaching to the console of", machine);
        Attach(machine.Name, "", (input, output) => SessionConsoleAttachment.Run(Local, machine, FromStart, input, output, Interrupted));
    }

    /// <summary>Runs one attachment with this terminal (raw while it is one) and says how it ended.</summary>
    private void Attach(string name, string where, Func<Stream, Stream, ConsoleAttachResult?> run)
    {
        ConsoleAttachResult? result;
        bool terminal;
        using (var input = StandardInput.Open())
        using (var output = Console.OpenStandardOutput())
        {
            terminal = input.IsTerminal;
            if (terminal) Host.UI.Write($"Attached to machine {name}{where}; Ctrl+] detaches\r\n");
            result = run(input, output);
        }
        if (result is null) return;
        if (result.SkippedWarning is { } skipped) WriteWarning(skipped);
        if (terminal) Host.UI.WriteLine($"\r\n{result.Describe(where)}");
        else WriteVerbose(result.Describe(where));
    }
}
