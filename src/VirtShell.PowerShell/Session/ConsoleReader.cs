using VirtShell.Control;
using VirtShell.Engine.Console;
using VirtShell.Engine.Machines;

namespace VirtShell.PowerShell.Session;

/// <summary>
/// Receive-VirtConsole's calls on the engine (<see cref="IMachineControl.ReadLinesAsync"/>): to the machine's host
/// process while its run is under way, through one connection for all the calls of a cmdlet; to the machine's record
/// here once it is at rest, console.log having every byte by then.
/// </summary>
internal sealed class ConsoleReader(VirtShellSession session, CancellationToken cancel) : IDisposable
{
    private MachineClient? _client;

    /// <summary>One query; <paramref name="machine"/> is read again when its host has ended.</summary>
    public ConsoleLineResult ReadLines(ref Machine machine, ConsoleLineQuery query)
    {
        _client ??= session.Connect(ref machine);
        if (_client is { } client)
        {
            try
            {
                return client.ReadLinesAsync(query, cancel).GetAwaiter().GetResult();
            }
            catch (MachineStateException)
            {
                // The host has ended: its record says how, and console.log has every byte now.
                Drop();
                machine = session.Host.Current(machine);
            }
        }
        return new MachineControl(machine).ReadLinesAsync(query, cancel).GetAwaiter().GetResult();
    }

    private void Drop()
    {
        _client?.Dispose();
        _client = null;
    }

    public void Dispose() => Drop();
}
