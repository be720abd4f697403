using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Store;

namespace VirtShell.Scripting.Definitions;

/// <summary>
/// The specs of pure-data definitions (no hooks, no script devices) already read, so starting such a machine again
/// does not evaluate the same text in a fresh V8 engine. An entry holds while every file the definition loaded
/// still has the text it had (compared in full: a definition is a few small files) and the files the spec names as
/// existing still exist; otherwise the definition is read again, which also reports any error in it. A definition
/// that asks the clock or <c>Math.random()</c> keeps the value of its first read while its text is unchanged.
/// Least recently used entries go first past <see cref="Capacity"/>.
/// <para>
/// With a <paramref name="directory"/>, entries are also kept on disk, one file each: the export's snapshot (what V8
/// gave, before it was read into a spec) and the texts. A new process, such as the host that runs a machine, then
/// needs no V8 for a definition some process of this user has read: the snapshot is read into a spec again, with
/// the same checks and errors as a fresh read. A file that cannot be read or written is only a miss.
/// </para>
/// </summary>
internal sealed class SpecCache(string? directory = null)
{
    public const int Capacity = 64;
    private const int FileVersion = 1;

    /// <summary>What a load was asked: the file, the name override and the file it is a stored copy of.</summary>
    public readonly record struct Key(string Path, string? Name, string? Source);

    private sealed record Entry(Key Key, MachineSpec Spec, IReadOnlyDictionary<string, string> Texts);

    /// <summary>An entry read back from disk: the snapshot to read into a spec, and the texts of the files it came from.</summary>
    public sealed record Stored(string Snapshot, IReadOnlyDictionary<string, string> Texts);

    private readonly Dictionary<Key, LinkedListNode<Entry>> _entries = [];
    private readonly LinkedList<Entry> _recency = new();
    private readonly object _lock = new();

    /// <summary>The spec read before for this load, and the files it read, if it is still what reading the files again would give.</summary>
    public (MachineSpec Spec, IReadOnlyCollection<string> Files)? Find(Key key)
    {
        Entry entry;
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var node)) return null;
            entry = node.Value;
        }
        // The files are read outside the lock: loads of other definitions need not wait for this one's disk.
        if (!TextsUnchanged(entry.Texts) || !BootFilesExist(entry.Spec))
        {
            lock (_lock)
                if (_entries.TryGetValue(entry.Key, out var node) && ReferenceEquals(node.Value, entry)) Drop(node);
            return null;
        }
        lock (_lock)
            if (_entries.TryGetValue(entry.Key, out var node) && ReferenceEquals(node.Value, entry))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
            }
        return (entry.Spec, entry.Texts.Keys.ToArray());
    }

    /// <summary>The snapshot kept on disk for this load, if its files still have the texts it was read from.</summary>
    public Stored? FindStored(Key key)
    {
        if (directory == null) return null;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(FileOf(key)));
            var root = document.RootElement;
            if (root.GetProperty("version").GetInt32() != FileVersion
                || root.GetProperty("path").GetString() != key.Path
                || (root.TryGetProperty("name", out var name) ? name.GetString() : null) != key.Name
                || (root.TryGetProperty("source", out var source) ? source.GetString() : null) != key.Source)
                return null;
            var texts = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var file in root.GetProperty("texts").EnumerateObject()) texts[file.Name] = file.Value.GetString()!;
            return TextsUnchanged(texts) ? new Stored(root.GetProperty("snapshot").GetString()!, texts) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// Keeps <paramref name="spec"/>, valid while the files in <paramref name="texts"/> keep these texts; on disk too
    /// (as <paramref name="snapshot"/>) when this cache has a directory.
    /// </summary>
    public void Add(Key key, MachineSpec spec, string snapshot, IReadOnlyDictionary<string, string> texts)
    {
        Remember(key, spec, texts);
        if (directory != null) Store(key, snapshot, texts);
    }

    /// <summary>Keeps <paramref name="spec"/> in this process only: what <see cref="FindStored"/> gave is on disk already.</summary>
    public void Remember(Key key, MachineSpec spec, IReadOnlyDictionary<string, string> texts)
    {
        var entry = new Entry(key, spec, texts);
        lock (_lock)
        {
            if (_entries.TryGetValue(entry.Key, out var old)) Drop(old);
            _entries[entry.Key] = _recency.AddFirst(entry);
            while (_entries.Count > Capacity) Drop(_recency.Last!);
        }
    }

    private void Store(Key key, string snapshot, IReadOnlyDictionary<string, string> texts)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("version", FileVersion);
            json.WriteString("path", key.Path);
            if (key.Name != null) json.WriteString("name", key.Name);
            if (key.Source != null) json.WriteString("source", key.Source);
            json.WriteString("snapshot", snapshot);
            json.WriteStartObject("texts");
            foreach (var (file, text) in texts) json.WriteString(file, text);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        try
        {
            Directory.CreateDirectory(directory!);
            AtomicFile.WriteAllBytes(FileOf(key), buffer.ToArray(), durable: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A cache that cannot be written costs the next process a V8 engine, nothing more.
        }
    }

    private string FileOf(Key key) =>
        Path.Combine(directory!, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{key.Path}\0{key.Name}\0{key.Source}"))) + ".json");

    private void Drop(LinkedListNode<Entry> node)
    {
        _recency.Remove(node);
        _entries.Remove(node.Value.Key);
    }

    private static bool TextsUnchanged(IReadOnlyDictionary<string, string> texts)
    {
        try
        {
            foreach (var (file, text) in texts)
                if (!string.Equals(File.ReadAllText(file), text, StringComparison.Ordinal)) return false;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    // The reader refused a missing boot image, initrd or module; a hit must not let one through.
    private static bool BootFilesExist(MachineSpec spec) =>
        spec.Boot is not { } boot
        || (File.Exists(boot.Image) && (boot.Initrd is null || File.Exists(boot.Initrd)) && boot.Modules.All(m => File.Exists(m.Path)));
}
