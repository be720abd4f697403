using VirtShell.Engine.Console;
using VirtShell.Engine.Machines;

namespace VirtShell.PowerShell.Session;

/// <summary>How an Enter-VirtConsole attachment ended; one made on another host crosses its session as this.</summary>
public sealed record ConsoleAttachResult(string MachineName, AttachmentEnd End, MachineState State, long Skipped)
{
    /// <summary>The line the cmdlet ends with; <paramref name="where"/> names the host (" on host H") when it is another.</summary>
    public string Describe(string where) => End switch
    {
        AttachmentEnd.Detached => $"Detached from machine {MachineName}{where}, which is {State}",
        AttachmentEnd.MachineEnded => $"Machine {MachineName}{where} is {State}",
        _ => $"Stopped watching machine {MachineName}{where}",
    };

    /// <summary>Output that was never shown, or null.</summary>
    public string? SkippedWarning => Skipped > 0
        ? $"{Skipped} bytes of machine {MachineName}'s output were rotated out of console.log before they could be shown"
        : null;
}

/// <summary>
/// An attachment to a machine's console from this PowerShell process (<see cref="ConsoleAttachment"/>): from this
/// session's console cursor (or the start of what is kept), which moves past what was shown. Enter-VirtConsole makes
/// one with this terminal; a remote Enter-VirtConsole makes one on the machine's host with its session's pipeline
/// (<see cref="Remoting.ConsoleRelay"/>).
/// </summary>
internal static class SessionConsoleAttachment
{
    public static ConsoleAttachResult Run(VirtShellSession local, Machine machine, bool fromStart, Stream input, Stream output, CancellationToken cancel)
    {
        if (!machine.State.IsLive())
            throw new MachineStateException($"machine '{machine.Name}' is {machine.State}; only a running machine has a console to attach to");
        using var client = local.Connect(ref machine);
        var cursor = fromStart ? default : local.GetCursor(machine);
        string name = machine.Name;
        var atRest = machine;
        var attachment = new ConsoleAttachment((IMachineControl?)client ?? new MachineControl(machine),
            () => new MachineControl(local.Host.Find(name) ?? atRest), input, output, new DetachKeys(DetachKeys.CtrlCloseBracket));
        var end = attachment.RunAsync(cursor.Offset, cancel).GetAwaiter().GetResult();
        local.SetCursor(machine, new ConsoleCursor(attachment.Next, attachment.EndsMidLine));
        return new ConsoleAttachResult(name, end, local.Host.Current(machine).State, attachment.Skipped);
    }
}
