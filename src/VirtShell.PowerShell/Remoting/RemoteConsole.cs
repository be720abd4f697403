using System.Management.Automation;
using System.Management.Automation.Runspaces;
using VirtShell.Engine.Console;
using VirtShell.Engine.Machines;
using VirtShell.PowerShell.Session;

namespace VirtShell.PowerShell.Remoting;

/// <summary>
/// Enter-VirtConsole on another host, in band over its PowerShell session: one pipeline there runs
/// <see cref="ConsoleRelay"/>, whose output (the guest's, a chunk at a time) is written to this terminal as it comes,
/// and whose input is what is typed here, sent as it is read. The detach key is seen there, as an attachment here
/// sees it, and ends the pipeline; so does the end of the machine's run. When this side stops first (Ctrl+C where
/// the terminal is not raw, a session that broke), the pipeline's input ends, which ends the attachment there.
/// The console cursor moved is the session's, as with Receive-VirtConsole -Session.
/// </summary>
internal static class RemoteConsole
{
    private const string RelayScript = "param([string] $Name, [bool] $FromStart)\n" + RemoteCommand.ImportScript + """
        foreach ($item in [VirtShell.PowerShell.Remoting.ConsoleRelay]::Run($Name, $FromStart, $input)) {
            if ($item -is [System.Management.Automation.ErrorRecord]) { Write-Error -ErrorRecord $item } else { , $item } # a chunk as one byte[]
        }
        """;

    /// <summary>
    /// Attaches <paramref name="input"/> and <paramref name="output"/> to machine <paramref name="name"/> on
    /// <paramref name="session"/>'s host until it ends; its errors are written through <paramref name="cmdlet"/>.
    /// Null when it did not attach.
    /// </summary>
    public static ConsoleAttachResult? Attach(PSCmdlet cmdlet, RemoteCommand remote, PSSession session, string name, bool fromStart, Stream input, Stream output)
    {
        var keys = new PSDataCollection<object>();
        using var typing = new CancellationTokenSource();
        var typed = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            int read;
            // The end of this side's input ends only the typing, as it does here: the output goes on.
            while ((read = await input.ReadAsync(buffer, typing.Token).ConfigureAwait(false)) > 0 && keys.IsOpen) keys.Add(buffer[..read]);
        });
        ConsoleAttachResult? result = null;
        try
        {
            remote.Stream(session, RelayScript, new Dictionary<string, object?> { ["Name"] = name, ["FromStart"] = fromStart }, keys, (item, error) =>
            {
                if (error is not null) cmdlet.WriteError(error);
                else if (item?.BaseObject is byte[] bytes)
                {
                    output.Write(bytes);
                    output.Flush();
                }
                else if (item is not null) result = Result(item);
            });
        }
        finally
        {
            typing.Cancel();
            try { typed.Wait(); }
            catch (AggregateException e) when (e.InnerExceptions.All(i => i is OperationCanceledException or InvalidOperationException)) { } // keys typed after the end
        }
        return result;
    }

    /// <summary>The relay's last object, as it was before it crossed the session.</summary>
    private static ConsoleAttachResult Result(PSObject item)
    {
        object? Value(string property) => item.Properties[property]?.Value;
        return new ConsoleAttachResult((string)Value(nameof(ConsoleAttachResult.MachineName))!,
            Enum.Parse<AttachmentEnd>(Value(nameof(ConsoleAttachResult.End))!.ToString()!),
            Enum.Parse<MachineState>(Value(nameof(ConsoleAttachResult.State))!.ToString()!),
            Convert.ToInt64(Value(nameof(ConsoleAttachResult.Skipped))));
    }
}
