using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Native;

namespace VirtShell.Engine.Store;

/// <summary>
/// Machines on disk under $VIRTSHELL_HOME/machines/&lt;name&gt;/: machine.json, a copy of the definition, console.log.
/// Every write is atomic, and a machine folder appears whole or not at all.
/// </summary>
public sealed partial class MachineStore
{
    /// <summary>The machine's record, <see cref="MachineRecord"/> as JSON.</summary>
    public const string RecordFile = "machine.json";
    /// <summary>The last record saved durably, kept while later saves are not (see <see cref="Save"/>).</summary>
    public const string DurableRecordFile = "machine.json.durable";
    /// <summary>The guest's console output (see <see cref="Console.ConsoleLog"/>).</summary>
    public const string ConsoleFile = "console.log";
    /// <summary>Engine and hook notes about the machine, one timestamped line each.</summary>
    public const string LogFile = "machine.log";
    /// <summary>The control socket the machine's host process serves while it runs (mode 0600).</summary>
    public const string ControlSocketFile = "control.sock";
    /// <summary>What the machine's host process wrote to its standard output and error.</summary>
    public const string HostLogFile = "host.log";

    /// <summary>How the store writes JSON (machine.json, checkpoint.json): indented, enums by name, nulls left out.</summary>
    internal static readonly JsonSerializerOptions Json = MachineRecordJson.RecordOptions;

    /// <summary>The store's root, absolute.</summary>
    public string Home { get; }
    /// <summary>The folder holding one folder per machine.</summary>
    public string MachinesDirectory => Path.Combine(Home, "machines");
    /// <summary>Where the specs of pure-data definitions are kept between processes, so a host process can start a machine without a script engine.</summary>
    public string DefinitionCacheDirectory => Path.Combine(Home, "cache", "definitions");

    /// <summary>Opens the store at <paramref name="home"/>, creating its machines folder if needed.</summary>
    public MachineStore(string home)
    {
        Home = Path.GetFullPath(home);
        Directory.CreateDirectory(MachinesDirectory);
    }

    /// <summary>$VIRTSHELL_HOME, else ~/.local/share/virtshell.</summary>
    public static string DefaultHome() =>
        Environment.GetEnvironmentVariable("VIRTSHELL_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share", "virtshell");

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();

    /// <summary>Checks a machine name: 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit, so it is a safe folder name.</summary>
    /// <exception cref="ArgumentException">The name is not valid; the message says what is.</exception>
    public static void ValidateName(string name)
    {
        if (!NamePattern().IsMatch(name))
            throw new ArgumentException($"'{name}' is not a valid machine name: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit");
    }

    /// <summary>The folder of machine <paramref name="name"/>, whether it exists or not.</summary>
    public string MachineDirectory(string name) => Path.Combine(MachinesDirectory, name);

    /// <summary>Whether machine <paramref name="name"/> has a record.</summary>
    public bool Exists(string name) => File.Exists(Path.Combine(MachineDirectory(name), RecordFile));

    /// <summary>
    /// Creates the machine folder with its record and a copy of its definition (<see cref="StoredDefinition"/>: the
    /// definition and those of <paramref name="definitionFiles"/> it imported), all or nothing; returns the record
    /// saved.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not valid.</exception>
    /// <exception cref="MachineExistsException">A machine of that name exists, or another creator won.</exception>
    public MachineRecord Create(MachineRecord record, IReadOnlyCollection<string>? definitionFiles = null)
    {
        ValidateName(record.Name);
        string target = MachineDirectory(record.Name);
        if (Directory.Exists(target)) throw new MachineExistsException(record.Name);
        string staging = Path.Combine(MachinesDirectory, $".new-{record.Name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            if (record.Spec.DefinitionPath is { } def && File.Exists(def))
                record = record with { Definition = StoredDefinition.Write(staging, def, definitionFiles ?? []) };
            AtomicFile.WriteAllText(Path.Combine(staging, RecordFile), JsonSerializer.Serialize(record, Json));
            // rename(2) of a directory onto an existing one fails, so two creators of one name cannot both win.
            Directory.Move(staging, target);
            return record;
        }
        catch (IOException) when (Directory.Exists(target))
        {
            throw new MachineExistsException(record.Name);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>
    /// Gives the machine of <paramref name="record"/> a new definition: a new copy (<see cref="StoredDefinition"/>),
    /// then the record naming it and <paramref name="spec"/>, saved atomically (the switch from one to the other),
    /// then the old copy is deleted. Returns the record saved.
    /// </summary>
    public MachineRecord Redefine(MachineRecord record, MachineSpec spec, IReadOnlyCollection<string> definitionFiles)
    {
        string directory = MachineDirectory(record.Name);
        var stored = StoredDefinition.Write(directory, spec.DefinitionPath!, definitionFiles);
        var updated = record with { Spec = spec, Definition = stored };
        try
        {
            Save(updated);
        }
        catch
        {
            StoredDefinition.DeleteOthers(directory, record.Definition);
            throw;
        }
        StoredDefinition.DeleteOthers(directory, stored);
        return updated;
    }

    /// <summary>The stored copy of the machine's definition, absolute; null when the record has none (see <see cref="MachineRecord.Definition"/>).</summary>
    public string? StoredDefinitionPath(MachineRecord record) =>
        record.Definition is { } stored ? Path.Combine(MachineDirectory(record.Name), stored.Copy) : null;

    /// <summary>
    /// Replaces the record atomically. A save that is not <paramref name="durable"/> (see
    /// <see cref="AtomicFile.WriteAllBytes"/>) may come back empty after a power cut where the filesystem does not put
    /// data on disk before a rename (XFS). So the first such save after a durable one first gives the durable record a
    /// second name, <see cref="DurableRecordFile"/>: a hard link to the same, already synced, file. <see cref="Load"/>
    /// falls back to it; the next durable save removes it.
    /// </summary>
    public void Save(MachineRecord record, bool durable = true)
    {
        string file = Path.Combine(MachineDirectory(record.Name), RecordFile);
        string kept = Path.Combine(MachineDirectory(record.Name), DurableRecordFile);
        // A failed link (a filesystem without hard links) leaves the save as safe as it was without one.
        if (!durable && !File.Exists(kept)) _ = Libc.link(file, kept);
        AtomicFile.WriteAllText(file, JsonSerializer.Serialize(record, Json), durable);
        if (durable) File.Delete(kept);
    }

    /// <summary>The machine's record, from the durable copy when the latest save was lost; null when there is no such machine.</summary>
    /// <exception cref="DefinitionException">The record, and its durable copy if any, cannot be read.</exception>
    public MachineRecord? Load(string name)
    {
        string file = Path.Combine(MachineDirectory(name), RecordFile);
        try
        {
            return JsonSerializer.Deserialize<MachineRecord>(File.ReadAllText(file), Json);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (JsonException e)
        {
            string kept = Path.Combine(MachineDirectory(name), DurableRecordFile);
            if (File.Exists(kept))
            {
                try
                {
                    return JsonSerializer.Deserialize<MachineRecord>(File.ReadAllText(kept), Json);
                }
                catch (JsonException) { }
            }
            throw new DefinitionException($"{file} is damaged: {e.Message}");
        }
    }

    /// <summary>
    /// The names of the machines in the store, ordered case-insensitively; folders being created or removed are left
    /// out.
    /// </summary>
    public IEnumerable<string> Names() =>
        !Directory.Exists(MachinesDirectory) ? [] : Directory.EnumerateDirectories(MachinesDirectory)
            .Select(Path.GetFileName)
            .Where(n => n != null && !n.StartsWith('.') && Exists(n))
            .Order(StringComparer.OrdinalIgnoreCase)!;

    /// <summary>Deletes the machine folder: renamed aside first, so a half-deleted machine is never listed.</summary>
    public void Delete(string name)
    {
        string dir = MachineDirectory(name);
        string doomed = Path.Combine(MachinesDirectory, $".removed-{name}-{Guid.NewGuid():N}");
        Directory.Move(dir, doomed);
        Directory.Delete(doomed, recursive: true);
    }

    /// <summary>
    /// Whether the process recorded as a machine's owner is still the same live process. A zombie (killed, not yet
    /// reaped by its parent) is not.
    /// </summary>
    public static bool IsOwnerAlive(MachineRecord record)
    {
        if (record.OwnerProcessId is not int pid) return false;
        try
        {
            if (IsZombie(pid)) return false;
            using var p = Process.GetProcessById(pid);
            return record.OwnerProcessStart is not { } start || Math.Abs((p.StartTime.ToUniversalTime() - start.UtcDateTime).TotalSeconds) < 2;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "pid (comm) S ...", where comm may hold spaces and parentheses: the state follows the last ')'.
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int end = stat.LastIndexOf(')');
            return end > 0 && end + 2 < stat.Length && stat[end + 2] == 'Z';
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}

/// <summary>Thrown by <see cref="MachineStore.Create"/> when the name is taken.</summary>
public sealed class MachineExistsException(string name) : Exception($"a machine named '{name}' already exists")
{
    /// <summary>The name that is taken.</summary>
    public string Name { get; } = name;
}
