using System.Diagnostics;

namespace VirtShell.Containers.Native;

internal static class ChildProcess
{
    /// <summary>
    /// <paramref name="name"/> from PATH, or from Debian's sbin folders (runc, criu: sbin is often not on a user's
    /// PATH); null if neither has it.
    /// </summary>
    public static string? FindProgram(string name)
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/local/sbin", "/sbin"]);
        return dirs.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// Runs a host tool to its end and returns its stdout; a non-zero exit throws an <see cref="IOException"/> that
    /// says <paramref name="what"/> failed, with the tool's stderr.
    /// </summary>
    public static string Run(string program, IEnumerable<string> args, string what)
    {
        var (code, stdout, stderr) = Capture(program, args);
        if (code != 0) throw new IOException($"{what} failed ({program} exited with {code}): {stderr.Trim()}");
        return stdout;
    }

    /// <summary>Runs a host tool to its end: its exit code, stdout and stderr.</summary>
    public static (int Code, string Stdout, string Stderr) Capture(string program, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Finish(Process.Start(psi)!);
    }

    /// <summary>Reads a started process's redirected stdout and stderr to their end, waits for it and disposes it.</summary>
    public static (int Code, string Stdout, string Stderr) Finish(Process process)
    {
        try
        {
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout, stderr.Result);
        }
        finally
        {
            process.DisposeWithPipes();
        }
    }

    /// <summary>
    /// Disposes <paramref name="process"/> and closes our ends of its redirected pipes. Process.Dispose alone leaves
    /// a pipe open once its stream has been read or written (the caller is then taken to own it), so without this
    /// each run of runc kept two or three pipe fds until the GC ran their finalizers.
    /// </summary>
    public static void DisposeWithPipes(this Process process)
    {
        try
        {
            if (process.StartInfo.RedirectStandardInput) process.StandardInput.Dispose();
        }
        catch (IOException) { /* the child closed its end with input still buffered: nothing to deliver it to */ }
        finally
        {
            if (process.StartInfo.RedirectStandardOutput) process.StandardOutput.Dispose();
            if (process.StartInfo.RedirectStandardError) process.StandardError.Dispose();
            process.Dispose();
        }
    }
}
