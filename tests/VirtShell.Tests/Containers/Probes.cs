using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace VirtShell.Tests.Containers;

/// <summary>
/// Small static C programs (probes/*.c) that a container runs to try something from the inside. Built with
/// <c>gcc -static</c> on first use into a folder of their own, which a test bind-mounts into the container.
/// </summary>
internal static class Probes
{
    private static readonly string SourceDirectory = Path.Combine(Path.GetDirectoryName(SourceFile())!, "probes");
    private static readonly ConcurrentDictionary<string, Lazy<string>> Built = new();

    public static string? Compiler { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "gcc")).FirstOrDefault(File.Exists);

    /// <summary>The folder holding the built probe <paramref name="name"/> (probes/<paramref name="name"/>.c).</summary>
    public static string Directory(string name) => Built.GetOrAdd(name, n => new Lazy<string>(() => Build(n))).Value;

    private static string Build(string name)
    {
        string output = System.IO.Directory.CreateTempSubdirectory($"virtshell-probe-{name}-").FullName;
        var psi = new ProcessStartInfo(Compiler ?? throw new InvalidOperationException("gcc is not installed"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var arg in new[] { "-static", "-O2", "-Wall", "-o", Path.Combine(output, name), Path.Combine(SourceDirectory, $"{name}.c") })
            psi.ArgumentList.Add(arg);
        using var gcc = Process.Start(psi)!;
        using var stdout = gcc.StandardOutput;
        using var stderr = gcc.StandardError;
        var errors = stderr.ReadToEndAsync();
        stdout.ReadToEnd();
        gcc.WaitForExit();
        Assert.True(gcc.ExitCode == 0, $"gcc could not build probes/{name}.c: {errors.Result}");
        return output;
    }

    private static string SourceFile([CallerFilePath] string path = "") => path;
}

/// <summary>A container fact that also needs gcc to build its probe: skipped, with the reason, where either is missing.</summary>
public sealed class ProbeFactAttribute : FactAttribute
{
    public ProbeFactAttribute()
    {
        Skip = new ContainerFactAttribute().Skip
            ?? (Probes.Compiler == null ? "gcc is not installed (Debian gcc and libc6-dev build the probes with -static)" : null);
    }
}
