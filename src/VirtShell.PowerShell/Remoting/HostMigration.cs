using System.Collections;
using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text.Json;
using VirtShell.Engine.Migration;
using SysPowerShell = System.Management.Automation.PowerShell;

namespace VirtShell.PowerShell.Remoting;

/// <summary>
/// What a move between hosts did and what it cost: the guest was paused for <see cref="Downtime"/> (from its pause on
/// the source until it runs on the destination); <see cref="Steps"/> says where the time went ("pre-copy 1.2 s, pause
/// 0.05 s, ..."). <see cref="Method"/> is "pre-copy" (RAM sent while the guest ran, <see cref="Rounds"/> of it, the
/// last one paused) or "stop-and-copy" (everything sent paused), with <see cref="MethodReason"/> saying why not pre-copy.
/// </summary>
public sealed record MachineMove(string Name, string Source, string Destination, string State, TimeSpan Downtime, TimeSpan Total, long CopiedBytes, string Steps,
    string Method, IReadOnlyList<PreCopyRound> Rounds, string? MethodReason);

/// <summary>
/// Moves a machine to another host through the sessions alone, with the checkpoint machinery both hosts already
/// have: the source pauses the machine and exports it (its saved state, definition files and disk images, one tar;
/// docs/state-format.md), the file goes over the SSH sessions in chunks (read on the source, appended on the
/// destination, through this process), the destination imports it, which leaves it Saved, and starts it, which goes
/// on from the state; then the source removes it. Disk images are therefore copied, never shared. A failure before the
/// destination runs it removes what was imported and resumes the machine on the source.
/// A running machine whose model logs the pages its guest writes (the interpreter) goes by pre-copy
/// (<see cref="PreCopyEndpoint"/>): its RAM streams to a file on the destination while it runs, round after round of
/// what it wrote meanwhile, so the pause only covers the last pages, the export without memory and the start; other
/// models go by stop-and-copy, which says why.
/// Only emulated machines move between hosts: a KVM machine's state saves, but its restore has never run on a host
/// with KVM (the development machine has none), and a container would need CRIU, which cannot checkpoint on this kernel.
/// </summary>
internal sealed class HostMigration(PSCmdlet cmdlet, RemoteCommand remote)
{
    private const string TempPathScript = "param([string] $File) [IO.Path]::Combine([IO.Path]::GetTempPath(), $File)";
    private const string SizeScript = "param([string] $Path) (Get-Item -LiteralPath $Path).Length";
    private const string DeleteScript = "param([string] $Path) Remove-Item -LiteralPath $Path -Force -ErrorAction Ignore";
    private const string ReadScript = """
        param([string] $Path, [long] $Offset, [int] $Count)
        $file = [IO.File]::OpenRead($Path)
        try {
            $file.Position = $Offset
            $bytes = [byte[]]::new($Count)
            $read = 0
            while ($read -lt $Count) { $n = $file.Read($bytes, $read, $Count - $read); if ($n -eq 0) { break }; $read += $n }
            if ($read -ne $Count) { throw "$Path ended at $($Offset + $read) bytes, before $($Offset + $Count)" }
            , $bytes
        }
        finally { $file.Dispose() }
        """;
    private const string StartScript = "param([string] $Name) [VirtShell.PowerShell.Remoting.PreCopyEndpoint]::Start($Name)";
    private const string NextScript = "param([string] $Name) , [VirtShell.PowerShell.Remoting.PreCopyEndpoint]::Next($Name)";
    private const string PauseScript = "param([string] $Name) [VirtShell.PowerShell.Remoting.PreCopyEndpoint]::Pause($Name)";
    private const string IncomingScript = "param([string] $Name) [VirtShell.PowerShell.Remoting.PreCopyEndpoint]::IncomingPath($Name)";
    private const string AcceptScript = "param([string] $Name, [string] $Path, [byte[]] $Last) [VirtShell.PowerShell.Remoting.PreCopyEndpoint]::Accept($Name, $Path, $Last)";
    private const string AppendScript = """
        param([string] $Path, [byte[]] $Bytes)
        $file = [IO.File]::Open($Path, [IO.FileMode]::Append, [IO.FileAccess]::Write)
        try { $file.Write($Bytes, 0, $Bytes.Length) } finally { $file.Dispose() }
        """;

    /// <summary>A chunk of the export per round trip: large enough that the trips cost little, small enough for memory.</summary>
    private const int ChunkBytes = 4 << 20;

    /// <summary>Names of machines matching <paramref name="name"/> on the source (wildcards), with their model and state.</summary>
    public IReadOnlyList<PSObject> Find(PSSession? source, string[] name) => On(source, "Get-VirtMachine", new() { ["Name"] = name });

    /// <summary>Moves <paramref name="machine"/> (as the source lists it) from <paramref name="source"/> (null: this host) to <paramref name="destination"/>.</summary>
    /// <param name="preCopy">False: a running machine is paused for the whole move (stop-and-copy) even where pre-copy could go.</param>
    public MachineMove Move(PSSession? source, PSObject machine, PSSession destination, bool preCopy = true)
    {
        string name = (string)machine.Properties["Name"].Value;
        string model = machine.Properties["Model"].Value?.ToString() ?? "";
        string state = machine.Properties["State"].Value?.ToString() ?? "";
        string from = source?.ComputerName ?? "this host", to = destination.ComputerName;
        if (source is not null && source.Runspace.InstanceId == destination.Runspace.InstanceId)
            throw new ArgumentException($"machine '{name}' is already on host {to}");
        if (model == "container")
            throw new InvalidOperationException($"machine '{name}' is a container: a container moves by a CRIU checkpoint and restore, which CRIU cannot do on this host's kernel; stop it and create it on host {to} instead");
        if (model != "emulated")
            throw new InvalidOperationException($"machine '{name}' is a {model} machine: only emulated machines move between hosts, since a KVM machine's saved state has not yet been restored on a host with KVM; stop it and Export-VirtMachine/Import-VirtMachine it instead");
        if (remote.Run([destination], "Get-VirtMachine", new Dictionary<string, object?> { ["Name"] = new[] { name } })[0].Output.Count > 0)
            throw new InvalidOperationException($"host {to} already has a machine named '{name}'");

        var total = Stopwatch.StartNew();
        var downtime = new Stopwatch();
        // Two names: the hosts may share a file system (the test rig's do).
        string file = $"virtshell-move-{name}-{Guid.NewGuid():N}";
        string sourcePath = source is null ? Path.Combine(Path.GetTempPath(), $"{file}.out") : Script<string>(source, TempPathScript, new() { ["File"] = $"{file}.out" });
        string destinationPath = Script<string>(destination, TempPathScript, new() { ["File"] = $"{file}.in" });
        bool live = state is "Running" or "Paused", paused = false, imported = false, preCopying = false;
        string? streamPath = null, reason = state != "Running" ? $"the machine is {state}, not running" : preCopy ? null : "-StopAndCopy was given";
        var rounds = new List<PreCopyRound>();
        byte[] lastPieces = [];
        long bytes = 0;
        var steps = new List<string>();
        var lap = Stopwatch.StartNew();
        void Step(string what)
        {
            steps.Add($"{what} {lap.Elapsed.TotalSeconds:0.00} s");
            lap.Restart();
        }
        try
        {
            if (reason is null)
            {
                reason = source is null ? PreCopyEndpoint.Start(name) : remote.RunOrThrow(source, "", Named1(name), StartScript).FirstOrDefault()?.BaseObject as string;
                preCopying = reason is null;
            }
            if (preCopying)
            {
                streamPath = Script<string>(destination, IncomingScript, Named1(name));
                cmdlet.WriteVerbose($"Sending machine {name}'s memory from {from} to host {to} while it runs (pre-copy)");
                var running = Stream(source, name, destination, streamPath);
                bytes += running.Bytes;
                Step("pre-copy");
                cmdlet.WriteVerbose($"Pausing machine {name} on {from} for the last round");
                downtime.Start();
                // The pause brings the last round's first pieces, which go to the destination with the Accept after
                // the import: two round trips fewer while the guest waits.
                var pause = source is null ? PreCopyEndpoint.Pause(name) : Script<Hashtable>(source, PauseScript, Named1(name));
                paused = true;
                rounds.AddRange(JsonSerializer.Deserialize<PreCopyRound[]>((string)pause["Rounds"]!) ?? []);
                lastPieces = (byte[])PSObject.AsPSObject(pause["StreamBytes"]).BaseObject;
                bytes += lastPieces.Length;
                if ((bool)PSObject.AsPSObject(pause["More"]).BaseObject)
                {
                    Append(destination, streamPath, lastPieces);
                    var rest = Stream(source, name, destination, streamPath);
                    bytes += rest.Bytes;
                    rounds.Add(new PreCopyRound(rounds.Count + 1, PageCount(lastPieces) + rest.Pages, lastPieces.Length + rest.Bytes, Live: false));
                    lastPieces = [];
                }
                Step("pause and last round");
            }
            else if (state == "Running")
            {
                cmdlet.WriteVerbose($"Pausing machine {name} on {from} (stop-and-copy: {reason})");
                downtime.Start();
                On(source, "Suspend-VirtMachine", Named(name));
                paused = true;
                Step("pause");
            }
            On(source, "Export-VirtMachine", new() { ["Name"] = new[] { name }, ["Path"] = sourcePath });
            Step("export");
            long exported = source is null ? new FileInfo(sourcePath).Length : Convert.ToInt64(Script<object>(source, SizeScript, new() { ["Path"] = sourcePath }));
            bytes += exported;
            cmdlet.WriteVerbose($"Copying machine {name}'s export ({exported} bytes: {(preCopying ? "CPU and device state" : "saved state")}, definition files, disk images) from {from} to host {to}");
            Transfer(source, sourcePath, exported, destination, destinationPath);
            Step("copy");
            remote.RunOrThrow(destination, "Import-VirtMachine", new Dictionary<string, object?> { ["Path"] = destinationPath, ["Name"] = name });
            imported = true;
            if (streamPath is not null)
            {
                remote.RunOrThrow(destination, "", new Dictionary<string, object?> { ["Name"] = name, ["Path"] = streamPath, ["Last"] = lastPieces }, AcceptScript);
                streamPath = null;
            }
            Step("import");
            if (live)
            {
                cmdlet.WriteVerbose($"Starting machine {name} on host {to}");
                remote.RunOrThrow(destination, "Start-VirtMachine", Named(name));
                if (state == "Paused") remote.RunOrThrow(destination, "Suspend-VirtMachine", Named(name));
                Step("start");
            }
            downtime.Stop();
            cmdlet.WriteVerbose($"Removing machine {name} from {from}");
            On(source, "Remove-VirtMachine", new() { ["Name"] = new[] { name }, ["Force"] = true });
            Step("removal at the source");
        }
        catch (Exception e) when (e is not PipelineStoppedException)
        {
            if (imported) Try(() => remote.RunOrThrow(destination, "Remove-VirtMachine", new Dictionary<string, object?> { ["Name"] = new[] { name }, ["Force"] = true }));
            // A pause and resume ends a pre-copy still in its live rounds (its dirty-page log stops).
            if (preCopying && !paused) Try(() => On(source, "Suspend-VirtMachine", Named(name)));
            if (paused || preCopying) Try(() => On(source, "Resume-VirtMachine", Named(name)));
            throw;
        }
        finally
        {
            if (streamPath is not null) Try(() => remote.RunOrThrow(destination, "", new Dictionary<string, object?> { ["Path"] = streamPath }, DeleteScript));
            if (source is null) File.Delete(sourcePath);
            else Try(() => remote.RunOrThrow(source, "", new Dictionary<string, object?> { ["Path"] = sourcePath }, DeleteScript));
            Try(() => remote.RunOrThrow(destination, "", new Dictionary<string, object?> { ["Path"] = destinationPath }, DeleteScript));
        }
        return new MachineMove(name, from, to, state, downtime.Elapsed, total.Elapsed, bytes, string.Join(", ", steps),
            preCopying ? "pre-copy" : "stop-and-copy", rounds, reason);
    }

    private static Dictionary<string, object?> Named(string name) => new() { ["Name"] = new[] { name } };
    private static Dictionary<string, object?> Named1(string name) => new() { ["Name"] = name };

    /// <summary>
    /// Pieces of the pre-copy from the source, each appended to the destination's stream file, until the source says
    /// the phase is over; how many pages and bytes went.
    /// </summary>
    private (int Pages, long Bytes) Stream(PSSession? source, string name, PSSession destination, string streamPath)
    {
        int pages = 0;
        long bytes = 0;
        while (true)
        {
            byte[] framed = source is null ? PreCopyEndpoint.Next(name) : Script<byte[]>(source, NextScript, Named1(name));
            if (framed.Length == 0) return (pages, bytes);
            pages += PageCount(framed);
            bytes += framed.Length;
            Append(destination, streamPath, framed);
        }
    }

    private void Append(PSSession destination, string path, byte[] bytes) =>
        remote.RunOrThrow(destination, "", new Dictionary<string, object?> { ["Path"] = path, ["Bytes"] = bytes }, AppendScript);

    /// <summary>The pages in framed pieces (<see cref="PreCopyStream.Frame"/>).</summary>
    private static int PageCount(byte[] framed)
    {
        int pages = 0;
        for (int at = 0; at < framed.Length;)
        {
            int length = BitConverter.ToInt32(framed, at);
            pages += MemoryDelta.PageCount(framed.AsMemory(at + 4, length));
            at += 4 + length;
        }
        return pages;
    }

    /// <summary>A VirtShell cmdlet on the source: here, or on its session; its first error is thrown.</summary>
    private IReadOnlyList<PSObject> On(PSSession? session, string command, Dictionary<string, object?> parameters)
    {
        if (session is not null) return remote.RunOrThrow(session, command, parameters);
        using var shell = SysPowerShell.Create(RunspaceMode.CurrentRunspace);
        shell.AddCommand($"VirtShell\\{command}");
        foreach (var (key, value) in parameters) shell.AddParameter(key, value);
        shell.AddParameter("ErrorAction", ActionPreference.Stop);
        return shell.Invoke();
    }

    private T Script<T>(PSSession session, string script, Dictionary<string, object?> parameters) =>
        (T)remote.RunOrThrow(session, "", parameters, script).Single().BaseObject;

    /// <summary>
    /// Copies the export to the destination a chunk at a time: read here or by the source's session, appended by the
    /// destination's. Copy-Item -FromSession then -ToSession (through a file here, each with its own checks) took
    /// 0.9-1.0 s for a 16 KiB export between two rig hosts, this 0.1-0.9 s on the same busy machine.
    /// </summary>
    private void Transfer(PSSession? source, string sourcePath, long bytes, PSSession destination, string destinationPath)
    {
        using var here = source is null ? File.OpenRead(sourcePath) : null;
        for (long offset = 0; offset < bytes; offset += ChunkBytes)
        {
            int count = (int)Math.Min(ChunkBytes, bytes - offset);
            byte[] chunk;
            if (here is not null)
            {
                chunk = new byte[count];
                here.ReadExactly(chunk);
            }
            else chunk = Script<byte[]>(source!, ReadScript, new() { ["Path"] = sourcePath, ["Offset"] = offset, ["Count"] = count });
            remote.RunOrThrow(destination, "", new Dictionary<string, object?> { ["Path"] = destinationPath, ["Bytes"] = chunk }, AppendScript);
        }
    }

    /// <summary>Undoing after a failure: the failure is what is reported, not a second one on the way back.</summary>
    private static void Try(Action undo)
    {
        try { undo(); }
        catch (Exception e) when (e is not PipelineStoppedException) { }
    }
}
