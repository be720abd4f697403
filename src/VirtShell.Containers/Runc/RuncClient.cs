using System.Diagnostics;
using System.Text.Json;
using VirtShell.Containers.Native;

namespace VirtShell.Containers.Runc;

/// <summary>What <c>runc state</c> says about a container.</summary>
public sealed record RuncState(string Id, string Status, int Pid);

/// <summary>
/// Drives the runc binary with the project's own state root (<c>--root</c> under $VIRTSHELL_HOME), so our
/// containers never mix with another engine's. Each call is one runc process; runc's log goes to a JSON file
/// from which errors are read (for run and exec, stderr belongs to the container).
/// </summary>
public sealed class RuncClient(string executable, string stateRoot)
{
    public string Executable { get; } = executable;
    public string StateRoot { get; } = stateRoot;

    /// <summary>runc from PATH, or Debian's /usr/sbin/runc; null if neither.</summary>
    public static string? Find() => ChildProcess.FindProgram("runc");

    /// <summary>
    /// Launches <c>runc run --detach</c>: create and start in one runc process (one spawn on the start path instead
    /// of create + start). The returned process's redirected stdin/stdout/stderr are the container's from the moment
    /// it exists, so its output can be pumped before runc has exited; <see cref="WaitUntilStarted"/> waits for runc.
    /// </summary>
    public Process RunDetached(string id, string bundle, string pidFile, string logFile) =>
        Launch(["run", "--detach", "--bundle", bundle, "--pid-file", pidFile, id], logFile, redirectInput: true);

    /// <summary>Waits for a <see cref="RunDetached"/> launch to end; throws with runc's explanation when it could not start the container.</summary>
    public static void WaitUntilStarted(Process run, string id, string logFile)
    {
        run.WaitForExit();
        if (run.ExitCode != 0)
            throw new RuncException($"runc could not start container '{id}': {LastError(logFile) ?? $"runc run exited with {run.ExitCode}"}");
    }

    /// <summary>
    /// <c>runc restore --detach</c>: CRIU rebuilds the container's processes from <paramref name="imagesDirectory"/> in
    /// the bundle's rootfs, cgroup and network; the checkpointed stdio pipes become this runc process's redirected
    /// pipes, as with <see cref="RunDetached"/>. CRIU's log is restore.log in <paramref name="workDirectory"/>.
    /// </summary>
    public Process RestoreDetached(string id, string criu, string bundle, string imagesDirectory, string workDirectory, string pidFile, string logFile) =>
        Launch(["--criu", criu, "restore", "--detach", "--bundle", bundle, "--image-path", imagesDirectory, "--work-path", workDirectory,
            "--pid-file", pidFile, id], logFile, redirectInput: true);

    /// <summary>
    /// <c>runc checkpoint --leave-running</c>: CRIU writes the container's processes to <paramref name="imagesDirectory"/>
    /// and leaves them as they were (a paused container stays frozen). CRIU's log is dump.log in <paramref name="workDirectory"/>.
    /// </summary>
    public void Checkpoint(string id, string criu, string imagesDirectory, string workDirectory)
    {
        var (code, _, stderr) = Capture(["--criu", criu, "checkpoint", "--leave-running", "--image-path", imagesDirectory, "--work-path", workDirectory, id]);
        if (code != 0) throw new RuncException($"runc checkpoint {id} failed: {stderr.Trim()}");
    }

    /// <summary>runc's version ("1.1.5+ds1"), or null when it cannot say.</summary>
    public string? Version()
    {
        var (code, stdout, _) = Capture(["--version"]);
        string first = stdout.Split('\n')[0];
        return code == 0 && first.StartsWith("runc version ", StringComparison.Ordinal) ? first["runc version ".Length..].Trim() : null;
    }

    public void Pause(string id) => Run(["pause", id]);
    public void Resume(string id) => Run(["resume", id]);

    /// <summary>Sends <paramref name="signal"/> to the container's init (SIGKILL to init ends every process in its namespace).</summary>
    public void Kill(string id, string signal) => Run(["kill", id, signal]);

    public void Delete(string id, bool force) => Run(force ? ["delete", "--force", id] : ["delete", id]);

    /// <summary>The container's state, or null when runc does not know it.</summary>
    public RuncState? State(string id)
    {
        if (!File.Exists(Path.Combine(StateRoot, id, "state.json"))) return null;
        var (code, stdout, _) = Capture(["state", id]);
        if (code != 0) return null;
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        return new RuncState(root.GetProperty("id").GetString()!, root.GetProperty("status").GetString()!,
            root.TryGetProperty("pid", out var pid) ? pid.GetInt32() : 0);
    }

    /// <summary>Starts <c>runc exec</c>; stdout and stderr are the command's, stdin is closed. Dispose it with <see cref="ChildProcess.DisposeWithPipes"/>.</summary>
    public Process Exec(string id, IReadOnlyList<string> command, ExecOptions options, string pidFile, string logFile)
    {
        var args = new List<string> { "exec", "--pid-file", pidFile };
        if (options.WorkingDirectory is { } cwd) args.AddRange(["--cwd", cwd]);
        if (options.User is { } user) args.AddRange(["--user", user]);
        foreach (var env in options.Environment) args.AddRange(["--env", env]);
        args.Add(id);
        args.AddRange(command);
        var process = Launch(args, logFile, redirectInput: true);
        process.StandardInput.Close();
        return process;
    }

    /// <summary>The message of the last error runc wrote to <paramref name="logFile"/>, if any.</summary>
    public static string? LastError(string logFile)
    {
        if (!File.Exists(logFile)) return null;
        string? last = null;
        foreach (var line in File.ReadLines(logFile))
        {
            try
            {
                using var json = JsonDocument.Parse(line);
                if (json.RootElement.TryGetProperty("level", out var level) && level.GetString() is "error" or "fatal"
                    && json.RootElement.TryGetProperty("msg", out var msg))
                    last = msg.GetString();
            }
            catch (JsonException) { last = line; }
        }
        return last;
    }

    private void Run(IReadOnlyList<string> args)
    {
        var (code, _, stderr) = Capture(args);
        if (code != 0)
            throw new RuncException($"runc {args[0]} {args[^1]} failed: {stderr.Trim()}");
    }

    private (int Code, string Stdout, string Stderr) Capture(IReadOnlyList<string> args) =>
        ChildProcess.Finish(Launch(args, logFile: null, redirectInput: false));

    private Process Launch(IReadOnlyList<string> args, string? logFile, bool redirectInput)
    {
        var psi = new ProcessStartInfo(Executable)
        {
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(StateRoot);
        if (logFile != null)
        {
            psi.ArgumentList.Add("--log");
            psi.ArgumentList.Add(logFile);
            psi.ArgumentList.Add("--log-format");
            psi.ArgumentList.Add("json");
        }
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            return Process.Start(psi) ?? throw new RuncException($"could not start {Executable}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new RuncException($"could not start {Executable}: {e.Message}");
        }
    }
}

/// <summary>How <c>runc exec</c> runs a command: as whom, where, with which extra environment (null: as the container's process).</summary>
public sealed record ExecOptions
{
    public string? WorkingDirectory { get; init; }
    /// <summary>"uid:gid", or null for the container process's user.</summary>
    public string? User { get; init; }
    public IReadOnlyList<string> Environment { get; init; } = [];
}
