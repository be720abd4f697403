using System.Diagnostics;
using System.Runtime.InteropServices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;

namespace VirtShell.Control;

/// <summary>
/// Starts the process that runs one machine (<c>virtshell-host</c>, laid out beside this assembly). It detaches
/// itself (a session of its own, no terminal, output to host.log in the machine's folder), serves the control
/// socket, starts the machine, says "ready" (or "error: type: why") on the pipe it was given as standard output,
/// and ends once the machine's run has ended. Starting needs no connection: a client connects only for what
/// comes after.
/// </summary>
public static class HostProcess
{
    /// <summary>The host executable's file name.</summary>
    public const string ExecutableName = "virtshell-host";

    /// <summary>The line the host writes on its standard output once the machine runs.</summary>
    public const string ReadyLine = "ready";

    /// <summary>How the line starts that the host writes instead when it cannot serve or start the machine.</summary>
    private const string ErrorPrefix = "error: ";

    /// <summary>The line a host writes for <paramref name="e"/>: its type, for the starter to throw the same kind, and its message on one line.</summary>
    public static string ErrorLine(Exception e) => $"{ErrorPrefix}{e.GetType().FullName}: {e.Message.ReplaceLineEndings(" ")}";

    /// <summary>Where a machine's control socket is.</summary>
    public static string SocketPath(MachineStore store, string name) =>
        Path.Combine(store.MachineDirectory(name), MachineStore.ControlSocketFile);

    /// <summary>
    /// Starts a host process for machine <paramref name="name"/> and returns once the machine runs in it. The start's
    /// errors are the engine's, as the host threw them. <paramref name="cancel"/> stops the waiting, not the start.
    /// </summary>
    /// <exception cref="MachineStateException">The host process could not be started or ended before the machine ran.</exception>
    public static void Launch(MachineStore store, string name, CancellationToken cancel)
    {
        string executable = Path.Combine(Path.GetDirectoryName(typeof(HostProcess).Assembly.Location)!, ExecutableName);
        if (!File.Exists(executable))
            throw new MachineStateException($"machine '{name}': the host executable {executable} is missing (build the module with build.ps1)");
        var start = HostStart(executable, store.Home, name);
        string? line;
        try
        {
            // No time limit of its own: the host's loads and hooks have theirs, and a host that dies closes the pipe.
            line = SpareHost.TryTake(store, name, executable, cancel) ?? StartHost(start, name, executable, cancel);
        }
        finally
        {
            SpareHost.Replenish(store, HostStart(executable, store.Home, SpareHost.Argument));
        }
        if (line == ReadyLine) return;
        if (line is null || !line.StartsWith(ErrorPrefix, StringComparison.Ordinal))
            throw new MachineStateException($"machine '{name}': its host process ended before the machine ran; see {Path.Combine(store.MachineDirectory(name), MachineStore.HostLogFile)}");
        string error = line[ErrorPrefix.Length..];
        int colon = error.IndexOf(": ", StringComparison.Ordinal);
        throw colon < 0 ? new MachineStateException(error) : ControlProtocol.EngineException(error[..colon], error[(colon + 2)..]);
    }

    /// <summary>How a host process is started: <c>executable home argument</c>, with the runtime this process runs on.</summary>
    /// <summary>The .NET installation this process runs on, which every host it starts is given as DOTNET_ROOT.</summary>
    public static string DotnetRoot => Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "../../.."));

    private static ProcessStartInfo HostStart(string executable, string home, string argument)
    {
        // Every standard stream a pipe of ours, never this process's own: the runtime keeps a duplicate of the
        // streams it started with, which would hold a shell's pipe or terminal open for as long as the machine runs.
        var start = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList = { home, argument },
        };
        // The apphost looks for the runtime in DOTNET_ROOT first: give it the one this process runs on.
        start.Environment["DOTNET_ROOT"] = DotnetRoot;
        return start;
    }

    /// <summary>Starts a host of its own for the machine; returns the line it answers with, null if it ended without one.</summary>
    private static string? StartHost(ProcessStartInfo start, string name, string executable, CancellationToken cancel)
    {
        using var process = Process.Start(start)
            ?? throw new MachineStateException($"machine '{name}': {executable} could not be started");
        process.StandardInput.Close();
        return process.StandardOutput.ReadLineAsync(cancel).AsTask().GetAwaiter().GetResult();
    }
}
