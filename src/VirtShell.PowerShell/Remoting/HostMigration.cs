using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using SysPowerShell = System.Management.Automation.PowerShell;

namespace VirtShell.PowerShell.Remoting;

/// <summary>
/// What a move between hosts did and what it cost: the guest was paused for <see cref="Downtime"/>; <see cref="Steps"/>
/// says where the time went ("pause 0.05 s, export 0.2 s, ...").
/// </summary>
public sealed record MachineMove(string Name, string Source, string Destination, string State, TimeSpan Downtime, TimeSpan Total, long CopiedBytes, string Steps);

/// <summary>
/// Moves a machine to another host through the sessions alone, with the checkpoint machinery both hosts already
/// have: the source pauses the machine and exports it (its saved state, definition files and disk images, one tar;
/// docs/state-format.md), the file goes over the SSH sessions in chunks (read on the source, appended on the
/// destination, through this process), the destination imports it, which leaves it Saved, and starts it, which goes
/// on from the state; then the source removes it. Disk images are therefore copied, never shared. A failure before the
/// destination runs it removes what was imported and resumes the machine on the source.
/// Only the emulated model saves a VM's state; a container would need CRIU, which cannot checkpoint on this kernel.
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
    public MachineMove Move(PSSession? source, PSObject machine, PSSession destination)
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
            throw new InvalidOperationException($"machine '{name}' is a {model} machine, whose state cannot be saved (only the emulated model's can), so it cannot move with it; stop it and Export-VirtMachine/Import-VirtMachine it instead");
        if (remote.Run([destination], "Get-VirtMachine", new Dictionary<string, object?> { ["Name"] = new[] { name } })[0].Output.Count > 0)
            throw new InvalidOperationException($"host {to} already has a machine named '{name}'");

        var total = Stopwatch.StartNew();
        var downtime = new Stopwatch();
        // Two names: the hosts may share a file system (the test rig's do).
        string file = $"virtshell-move-{name}-{Guid.NewGuid():N}";
        string sourcePath = source is null ? Path.Combine(Path.GetTempPath(), $"{file}.out") : Script<string>(source, TempPathScript, new() { ["File"] = $"{file}.out" });
        string destinationPath = Script<string>(destination, TempPathScript, new() { ["File"] = $"{file}.in" });
        bool live = state is "Running" or "Paused", paused = false, imported = false;
        long bytes;
        var steps = new List<string>();
        var lap = Stopwatch.StartNew();
        void Step(string what)
        {
            steps.Add($"{what} {lap.Elapsed.TotalSeconds:0.00} s");
            lap.Restart();
        }
        try
        {
            if (state == "Running")
            {
                cmdlet.WriteVerbose($"Pausing machine {name} on {from}");
                downtime.Start();
                On(source, "Suspend-VirtMachine", Named(name));
                paused = true;
                Step("pause");
            }
            On(source, "Export-VirtMachine", new() { ["Name"] = new[] { name }, ["Path"] = sourcePath });
            Step("export");
            bytes = source is null ? new FileInfo(sourcePath).Length : Convert.ToInt64(Script<object>(source, SizeScript, new() { ["Path"] = sourcePath }));
            cmdlet.WriteVerbose($"Copying machine {name}'s export ({bytes} bytes: saved state, definition files, disk images) from {from} to host {to}");
            Transfer(source, sourcePath, bytes, destination, destinationPath);
            Step("copy");
            remote.RunOrThrow(destination, "Import-VirtMachine", new Dictionary<string, object?> { ["Path"] = destinationPath, ["Name"] = name });
            imported = true;
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
            if (paused) Try(() => On(source, "Resume-VirtMachine", Named(name)));
            throw;
        }
        finally
        {
            if (source is null) File.Delete(sourcePath);
            else Try(() => remote.RunOrThrow(source, "", new Dictionary<string, object?> { ["Path"] = sourcePath }, DeleteScript));
            Try(() => remote.RunOrThrow(destination, "", new Dictionary<string, object?> { ["Path"] = destinationPath }, DeleteScript));
        }
        return new MachineMove(name, from, to, state, downtime.Elapsed, total.Elapsed, bytes, string.Join(", ", steps));
    }

    private static Dictionary<string, object?> Named(string name) => new() { ["Name"] = new[] { name } };

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
