using System.Diagnostics;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;

namespace VirtShell.Models.Comparison;

/// <summary>How long Compare-VirtModel measures.</summary>
public sealed record ComparisonOptions
{
    /// <summary>
    /// Each throughput measure runs its guest at a short and a long length, the long one grown until the two runs
    /// differ by at least this many seconds; the difference cancels start-up out.
    /// </summary>
    public double TargetSeconds { get; init; } = 1.0;
    /// <summary>Starts timed per model; the start column is their median.</summary>
    public int StartRuns { get; init; } = 3;
    /// <summary>Longest a single run may take.</summary>
    public TimeSpan RunTimeout { get; init; } = TimeSpan.FromMinutes(2);
}

/// <summary>
/// Runs the same workloads on every model and measures them (Compare-VirtModel): start to first console output, the
/// ring-3 loop's speed, one I/O round trip, console throughput and host memory overhead. Machines are made in the
/// host's store under names starting with <c>compare-</c> and removed after each run; their definitions and images
/// live in a work folder under the store's home that is deleted at the end.
/// </summary>
public sealed class ModelComparison(VirtualizationHost host, ComparisonGuests guests, ComparisonOptions options)
{
    /// <summary>
    /// One row per model, in the registry's order; <paramref name="progress"/> hears what runs now. A cancel turns
    /// the running machine off and ends with <see cref="OperationCanceledException"/>.
    /// </summary>
    public IEnumerable<ModelComparisonRow> Run(IEnumerable<IMachineModel> models, Action<string>? progress = null, CancellationToken cancel = default)
    {
        string parent = Path.Combine(host.Store.Home, "compare-work");
        string work = Path.Combine(parent, $"{Environment.ProcessId}-{Guid.NewGuid():N}"[..16]);
        Directory.CreateDirectory(work);
        try
        {
            foreach (var model in models) yield return Compare(model, work, progress ?? (_ => { }), cancel);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            if (!Directory.EnumerateFileSystemEntries(parent).Any()) Directory.Delete(parent);
        }
    }

    private ModelComparisonRow Compare(IMachineModel model, string work, Action<string> progress, CancellationToken cancel)
    {
        var seed = SeedTable.For(model.Name);
        var availability = model.GetAvailability();
        var row = new ModelComparisonRow
        {
            Model = model.Name,
            Technique = seed?.Technique ?? model.Technique,
            Available = availability.IsAvailable,
            Reason = availability.Reason,
            HowItWorks = seed?.HowItWorks,
            TypicalUse = seed?.TypicalUse,
            GuestChanges = seed?.GuestChanges,
            Examples = seed?.Examples,
        };
        if (!availability.IsAvailable) return row;
        ModelWorkloads? workloads;
        try { workloads = ModelWorkloads.For(model.Name, guests, work); }
        catch (Exception e) when (e is ComparisonException or IOException) { return row with { Note = $"not measured: {e.Message}" }; }
        if (workloads == null) return row with { Note = "not measured: the comparison has no workloads for this model" };

        var notes = new List<string>();
        T? Measure<T>(string column, string what, Func<T> measure) where T : struct
        {
            progress($"{model.Name}: {column}");
            try
            {
                var value = measure();
                notes.Add($"{column}: {what}");
                return value;
            }
            // Whatever stops one measure (a guest not built, a KVM call refused, a guest that ended wrongly) is that
            // measure's note; the others still run.
            catch (Exception e) when (e is not OperationCanceledException)
            {
                notes.Add($"{column}: failed: {e.Message}");
                return null;
            }
        }

        var start = Measure("start", workloads.StartWhat, () => MeasureStart(workloads.WriteStartDefinition(), cancel));
        double? cpu = Measure("CPU", workloads.Cpu.What,
            () => Rate(workloads.Cpu, cancel) * ModelWorkloads.InstructionsPerIteration / 1e6);
        double? roundTrip = Measure("I/O round trip", workloads.RoundTrip.What, () => 1e6 / Rate(workloads.RoundTrip, cancel));
        double? bulk = Measure("bulk I/O", workloads.Bulk.What, () => Rate(workloads.Bulk, cancel) / 1e6);
        notes.Add($"memory: resident memory the running start guest added to this process, less its resident guest RAM{workloads.MemoryCaveat}");
        return row with
        {
            StartSeconds = start?.Seconds,
            CpuMips = cpu,
            IoRoundTripMicroseconds = roundTrip,
            BulkIoMBps = bulk,
            MemoryOverheadMiB = start?.OverheadBytes / (1024.0 * 1024.0),
            GuestAdapted = workloads.GuestAdapted,
            Note = $"guest adapted: {workloads.Adaptation}; " + string.Join("; ", notes),
        };
    }

    private readonly record struct StartFigures(double Seconds, long OverheadBytes);

    /// <summary>
    /// Starts one machine <see cref="ComparisonOptions.StartRuns"/> times: the median time from the start request to
    /// its first console byte, and the memory overhead seen on the last start (the first pays for loading code).
    /// </summary>
    private StartFigures MeasureStart(string definition, CancellationToken cancel)
    {
        var machine = host.Create(definition, NewName());
        try
        {
            var seconds = new List<double>();
            long overhead = 0;
            for (int i = 0; i < Math.Max(1, options.StartRuns); i++)
            {
                long offset = File.Exists(machine.ConsoleLogPath) ? new FileInfo(machine.ConsoleLogPath).Length : 0;
                GC.Collect();
                GC.WaitForPendingFinalizers();
                long before = HostMemory.ResidentBytes();
                var watch = Stopwatch.StartNew();
                machine.Start();
                try
                {
                    var console = machine.Console ?? throw new ComparisonException("the machine has no console");
                    // In slices, so a guest that ends without a word is reported at once.
                    while (!console.WaitForOutput(offset, TimeSpan.FromMilliseconds(50), cancel))
                    {
                        cancel.ThrowIfCancellationRequested();
                        if (machine.State != MachineState.Running)
                            throw new ComparisonException($"the start guest ended before it printed anything{Ended(machine)}");
                        if (watch.Elapsed > options.RunTimeout)
                            throw new ComparisonException($"no console output within {options.RunTimeout.TotalSeconds:0} s{Ended(machine)}");
                    }
                    seconds.Add(watch.Elapsed.TotalSeconds);
                    // The guest's own resident RAM (mincore) is no overhead.
                    overhead = HostMemory.ResidentBytes() - before - (long)(machine.Memory?.ResidentBytes() ?? 0);
                }
                finally
                {
                    machine.Stop(turnOff: true, TimeSpan.FromSeconds(30));
                }
            }
            seconds.Sort();
            return new StartFigures(seconds[seconds.Count / 2], Math.Max(0, overhead));
        }
        finally
        {
            Discard(machine);
        }
    }

    /// <summary>
    /// Lengths per second of a workload: a short run, then longer ones until the difference in time reaches
    /// <see cref="ComparisonOptions.TargetSeconds"/> (or the workload's cap); start-up cancels out of the difference.
    /// </summary>
    private double Rate(Workload workload, CancellationToken cancel)
    {
        long shortLength = workload.ShortLength;
        double shortSeconds = RunToEnd(workload, shortLength, cancel);
        long length = shortLength * 4;
        while (true)
        {
            double difference = RunToEnd(workload, length, cancel) - shortSeconds;
            if (difference >= options.TargetSeconds || length >= workload.Cap)
            {
                if (difference <= 0)
                    throw new ComparisonException($"{length:N0} took no longer than {shortLength:N0}; nothing to measure");
                return (length - shortLength) / difference;
            }
            double factor = Math.Max(2, 1.2 * options.TargetSeconds / Math.Max(difference, 0.01));
            length = (long)Math.Min(workload.Cap, length * factor);
        }
    }

    /// <summary>Runs a workload's guest at one length to its end; wall-clock seconds from the start request.</summary>
    private double RunToEnd(Workload workload, long length, CancellationToken cancel)
    {
        cancel.ThrowIfCancellationRequested();
        var machine = host.Create(workload.WriteDefinition(length), NewName());
        try
        {
            var watch = Stopwatch.StartNew();
            machine.Start();
            if (!machine.WaitFor([MachineState.Stopped, MachineState.Crashed], options.RunTimeout, cancel))
            {
                cancel.ThrowIfCancellationRequested();
                throw new ComparisonException($"a run of {length:N0} did not end within {options.RunTimeout.TotalSeconds:0} s");
            }
            double seconds = watch.Elapsed.TotalSeconds;
            var exit = machine.LastExit;
            if (exit?.Reason != workload.Exit.Reason || exit.Status != workload.Exit.Status)
                throw new ComparisonException($"the guest ended with {exit?.Reason} {exit?.Status}, not {workload.Exit.Reason} {workload.Exit.Status}{Ended(machine)}");
            return seconds;
        }
        finally
        {
            Discard(machine);
        }
    }

    /// <summary>Turns a comparison machine off if it still runs, and removes it.</summary>
    private void Discard(Machine machine)
    {
        if (machine.State.IsLive())
            machine.Stop(turnOff: true, TimeSpan.FromSeconds(30));
        host.Remove(machine);
    }

    /// <summary>How a machine ended and the last console line, for an error.</summary>
    private static string Ended(Machine machine)
    {
        string detail = machine.LastExit is { } exit ? $" ({exit.Reason}{(exit.Detail is { } d ? ": " + d.Split('\n')[0] : "")})" : "";
        string? last = File.Exists(machine.ConsoleLogPath)
            ? File.ReadLines(machine.ConsoleLogPath).LastOrDefault(l => l.Trim().Length > 0) : null;
        return detail + (last != null ? $"; its console ends: {last.Trim()}" : "");
    }

    private static string NewName() => $"compare-{Guid.NewGuid():N}"[..16];
}
