using VirtShell.Engine.Machines;
using static VirtShell.Tests.Containers.ContainerTestHost;

namespace VirtShell.Tests.Containers;

/// <summary>Counted in this process, so no other test may open or close files meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessResourceCollection
{
    public const string Name = "process resources";
}

/// <summary>What a machine's runs leave in the engine's own process.</summary>
[Collection(ProcessResourceCollection.Name)]
public sealed class ContainerResourceTests : IDisposable
{
    private readonly ContainerTestHost _host = new();

    public void Dispose() => _host.Dispose();

    /// <summary>Create, start, one command, stop, remove: what a user's script does with a machine.</summary>
    private void Cycle(int i)
    {
        var machine = _host.StartIdle($"cycle{i}");
        Assert.Equal(0, Exec(machine, "true").Code);
        machine.Stop(turnOff: false, TimeSpan.FromSeconds(10));
        _host.Engine.Remove(machine);
    }

    private static int OpenPipes() =>
        Directory.EnumerateFileSystemEntries("/proc/self/fd").Count(fd =>
        {
            try { return new FileInfo(fd).LinkTarget?.StartsWith("pipe:", StringComparison.Ordinal) == true; }
            catch (IOException) { return false; } // the fd of the enumeration itself, closed meanwhile
        });

    [ContainerFact]
    public void Runs_close_their_pipes_without_waiting_for_the_GC()
    {
        Cycle(0); // what the first run sets up once for the process (.NET's child-process signal pipe, ...)
        int before = OpenPipes();
        for (int i = 1; i <= 10; i++) Cycle(i);
        int after = OpenPipes();
        // No GC.Collect here: pipes kept until a finalizer runs are exactly what this is about.
        Assert.True(after <= before, $"{after - before} pipe fds more after 10 runs ({before} before, {after} after)");
    }
}
