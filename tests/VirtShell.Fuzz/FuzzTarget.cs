namespace VirtShell.Fuzz;

/// <summary>
/// One part of the engine driven by fuzz input. <see cref="Run"/> returns normally for every outcome the engine
/// means to have (a definition error, a guest fault, a broken virtqueue); anything it throws is a finding.
/// Instances keep what every input shares (a scratch folder, the model registry) and are used by one thread.
/// </summary>
public interface IFuzzTarget : IDisposable
{
    /// <summary>The name on the command line and of the folder tests/fuzz/&lt;name&gt;/.</summary>
    string Name { get; }

    /// <summary>Runs one input; returns how it ended, for people replaying it (a finding throws instead).</summary>
    string Run(ReadOnlySpan<byte> input);
}

/// <summary>An input made the engine do what it never should: an exception the target does not expect, a wrong state.</summary>
public sealed class FuzzFindingException(string message, Exception? inner = null) : Exception(message, inner);

public static class FuzzTargets
{
    public static IReadOnlyList<string> Names { get; } = ["definition", "virtio", "interpreter"];

    public static IFuzzTarget Create(string name) => name switch
    {
        "definition" => new DefinitionTarget(),
        "virtio" => new VirtioTarget(),
        "interpreter" => new InterpreterTarget(),
        _ => throw new ArgumentException($"unknown fuzz target '{name}' (known: {string.Join(", ", Names)})", nameof(name)),
    };

    /// <summary>
    /// Longest one input may take, whatever it is: each target bounds its own work well below this (a V8 load budget,
    /// an instruction count, an operation count), so going past it is a hang in the engine.
    /// </summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A scratch folder for this process, in memory (/dev/shm) when the host has it. afl-fuzz ends its target with
    /// SIGKILL, so no folder gets deleted on the way out: the folders of processes that are gone are removed here.
    /// </summary>
    internal static string ScratchFolder(string target)
    {
        string parent = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        string prefix = $"virtshell-fuzz-{target}-";
        foreach (var old in Directory.GetDirectories(parent, prefix + "*"))
            if (int.TryParse(Path.GetFileName(old)[prefix.Length..], out int pid) && !Directory.Exists($"/proc/{pid}"))
            {
                try { Directory.Delete(old, recursive: true); }
                catch (IOException) { /* another process is cleaning up too */ }
            }
        return Directory.CreateDirectory(Path.Combine(parent, prefix + Environment.ProcessId)).FullName;
    }
}
