using System.Diagnostics;

namespace VirtShell.Containers.Native;

internal static class ChildProcess
{
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
