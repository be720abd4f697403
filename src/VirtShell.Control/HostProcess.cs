using System.Diagnostics;
using System.Runtime.InteropServices;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;

namespace VirtShell.Control;

/// <summary>
/// Starts the process that runs one machine (<c>virtshell-host</c>, laid out beside this assembly). It detaches
/// itself (a session of its own, no terminal, output to host.log in the machine's folder), serves the control
/// socket, says "ready" (or "error: why") on the pipe it was given as standard output, and ends once the machine's
/// run has ended.
/// </summary>
public static class HostProcess
{
    /// <summary>The host executable's file name.</summary>
    public const string ExecutableName = "virtshell-host";

    /// <summary>The line the host writes on its standard output once its control socket takes connections.</summary>
    public const string ReadyLine = "ready";

    /// <summary>How the line starts that the host writes instead when it cannot serve the machine.</summary>
    public const string ErrorPrefix = "error: ";

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Where a machine's control socket is.</summary>
    public static string SocketPath(MachineStore store, string name) =>
        Path.Combine(store.MachineDirectory(name), MachineStore.ControlSocketFile);

    /// <summary>Starts a host process for machine <paramref name="name"/> and connects to it; the caller then asks it to start the machine.</summary>
    /// <exception cref="MachineStateException">The host process could not be started or ended before it was ready.</exception>
    public static MachineClient Launch(MachineStore store, string name)
    {
        string executable = Path.Combine(Path.GetDirectoryName(typeof(HostProcess).Assembly.Location)!, ExecutableName);
        if (!File.Exists(executable))
            throw new MachineStateException($"machine '{name}': the host executable {executable} is missing (build the module with build.ps1)");
        // Every standard stream a pipe of ours, never this process's own: the runtime keeps a duplicate of the
        // streams it started with, which would hold a shell's pipe or terminal open for as long as the machine runs.
        var start = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList = { store.Home, name },
        };
        // The apphost looks for the runtime in DOTNET_ROOT first: give it the one this process runs on.
        start.Environment["DOTNET_ROOT"] = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "../../.."));
        using var process = Process.Start(start)
            ?? throw new MachineStateException($"machine '{name}': {executable} could not be started");
        process.StandardInput.Close();
        var ready = process.StandardOutput.ReadLineAsync();
        if (!ready.Wait(ReadyTimeout))
        {
            process.Kill();
            throw new MachineStateException($"machine '{name}': its host process {process.Id} was not ready within {ReadyTimeout.TotalSeconds} s");
        }
        if (ready.Result != ReadyLine)
        {
            throw new MachineStateException(ready.Result is { } line && line.StartsWith(ErrorPrefix, StringComparison.Ordinal)
                ? line[ErrorPrefix.Length..]
                : $"machine '{name}': its host process {process.Id} ended before it was ready; see {Path.Combine(store.MachineDirectory(name), MachineStore.HostLogFile)}");
        }
        return MachineClient.Connect(name, SocketPath(store, name));
    }
}
