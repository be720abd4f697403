using System.Management.Automation;
using System.Management.Automation.Runspaces;
using VirtShell.Engine.Console;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Remoting;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Cmdlets;

/// <summary>
/// Attaches this terminal to a running machine's console, as <c>virsh console</c> does: the guest's output is shown
/// as it comes and keys go to the guest in raw mode until Ctrl+] detaches. The output starts where this session's
/// console cursor is (what it has not received yet) and the cursor moves past what was shown.
/// </summary>
[Cmdlet(VerbsCommon.Enter, "VirtConsole", DefaultParameterSetName = ByName)]
[OutputType(typeof(void))]
public sealed class EnterVirtConsoleCommand : MachineCmdlet
{
    /// <summary>Shows the output kept from the start (console.log), not from the cursor.</summary>
    [Parameter]
    public SwitchParameter FromStart { get; set; }

    /// <summary>An attachment needs this terminal in raw mode on the machine's host, which a PowerShell session has not.</summary>
    protected override void ProcessRemote(IReadOnlyList<PSSession> sessions)
    {
        foreach (var session in sessions)
            WriteError(new ErrorRecord(new RemoteHostException(session.ComputerName,
                $"host {session.ComputerName}: Enter-VirtConsole attaches this terminal, which a PowerShell session cannot carry; run it there through ssh: ssh -t {session.ComputerName} pwsh -Command Enter-VirtConsole {string.Join(",", Name)}"),
                VirtShellErrors.InvalidArgument, ErrorCategory.NotImplemented, session));
    }

    protected override void Process(Machine machine)
    {
        if (!machine.State.IsLive())
            throw new MachineStateException($"machine '{machine.Name}' is {machine.State}; only a running machine has a console to attach to");
        WriteVerboseCall("Attaching to the console of", machine);
        using var client = Local.Connect(ref machine);
        var cursor = FromStart ? default : Local.GetCursor(machine);
        string name = machine.Name;
        var atRest = machine;
        ConsoleAttachment attachment;
        AttachmentEnd end;
        bool terminal;
        using (var input = StandardInput.Open())
        using (var output = Console.OpenStandardOutput())
        {
            terminal = input.IsTerminal;
            if (terminal) Host.UI.Write($"Attached to machine {name}; Ctrl+] detaches\r\n");
            attachment = new ConsoleAttachment((IMachineControl?)client ?? new MachineControl(machine),
                () => new MachineControl(Local.Host.Find(name) ?? atRest), input, output, new DetachKeys(DetachKeys.CtrlCloseBracket));
            end = attachment.RunAsync(cursor.Offset, Interrupted).GetAwaiter().GetResult();
        }
        Local.SetCursor(machine, new ConsoleCursor(attachment.Next, attachment.EndsMidLine));
        if (attachment.Skipped > 0)
            WriteWarning($"{attachment.Skipped} bytes of machine {name}'s output were rotated out of console.log before they could be shown");
        machine = Local.Host.Current(machine);
        string how = end switch
        {
            AttachmentEnd.Detached => $"Detached from machine {name}, which is {machine.State}",
            AttachmentEnd.MachineEnded => $"Machine {name} is {machine.State}",
            _ => $"Stopped watching machine {name}",
        };
        if (terminal) Host.UI.WriteLine($"\r\n{how}");
        else WriteVerbose(how);
    }
}
