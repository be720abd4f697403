using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using VirtShell.Engine.Console;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;

namespace VirtShell.Tests.Scripting;

/// <summary>The definition files next to these tests (read in place, so they need no copy step).</summary>
internal static class Fixtures
{
    public static string Dir { get; } = Path.Combine(Path.GetDirectoryName(SourceFile())!, "defs");

    public static string Get(string name) => Path.Combine(Dir, name);

    private static string SourceFile([CallerFilePath] string path = "") => path;
}

/// <summary>A scratch folder for definitions written by a test; has guests/hello.bin like the fixtures.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("virtshell-js-").FullName;

    public TempFolder()
    {
        Directory.CreateDirectory(System.IO.Path.Combine(Path, "guests"));
        File.Copy(Fixtures.Get("guests/hello.bin"), System.IO.Path.Combine(Path, "guests/hello.bin"));
    }

    public string Write(string name, string text)
    {
        string file = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(file)!);
        File.WriteAllText(file, text);
        return file;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>A machine as hooks see it, recording what they do; RAM 0..64K.</summary>
internal sealed class FakeMachineApi : IMachineApi, IDisposable
{
    public ConcurrentQueue<string> Logs { get; } = new();
    public ConcurrentQueue<string> Failures { get; } = new();
    public int StopRequests;

    public string Name { get; init; } = "fake";
    public GuestMemory Memory { get; } = new();
    public ConsoleChannel Console { get; } = new(null);
    public FakeFiles Files { get; } = new();
    IGuestFiles IMachineApi.Files => Files;

    public FakeMachineApi() => Memory.AddRam(0, 0x10000);

    public void Log(string message) => Logs.Enqueue(message);
    public void RequestStop() => Interlocked.Increment(ref StopRequests);
    public void Fail(string message) => Failures.Enqueue(message);

    /// <summary>Waits until <paramref name="condition"/> holds; false after <paramref name="timeout"/>.</summary>
    public static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(5);
        }
        return true;
    }

    public void Dispose()
    {
        Memory.Dispose();
        Console.Dispose();
    }
}

/// <summary>A guest's files as a dictionary, for hooks that write and read them.</summary>
internal sealed class FakeFiles : IGuestFiles
{
    public ConcurrentDictionary<string, (byte[] Content, uint Mode)> Written { get; } = new();
    public void WriteFile(string path, ReadOnlySpan<byte> content, uint mode) => Written[path] = (content.ToArray(), mode);
    public byte[] ReadFile(string path) =>
        Written.TryGetValue(path, out var file) ? file.Content : throw new FileNotFoundException($"{path} does not exist in the guest");
}
