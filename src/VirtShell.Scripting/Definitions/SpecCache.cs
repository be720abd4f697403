using VirtShell.Engine.Definitions;

namespace VirtShell.Scripting.Definitions;

/// <summary>
/// The specs of pure-data definitions (no hooks, no script devices) already read, so starting such a machine again
/// does not evaluate the same text in a fresh V8 engine. An entry holds while every file the definition loaded
/// still has the text it had (compared in full: a definition is a few small files) and the files the spec names as
/// existing still exist; otherwise the definition is read again, which also reports any error in it. A definition
/// that asks the clock or <c>Math.random()</c> keeps the value of its first read while its text is unchanged.
/// Least recently used entries go first past <see cref="Capacity"/>.
/// </summary>
internal sealed class SpecCache
{
    public const int Capacity = 64;

    /// <summary>What a load was asked: the file, the name override and the file it is a stored copy of.</summary>
    public readonly record struct Key(string Path, string? Name, string? Source);

    private sealed record Entry(Key Key, MachineSpec Spec, IReadOnlyDictionary<string, string> Texts);

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
        if (!StillValid(entry))
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

    /// <summary>Keeps <paramref name="spec"/>, valid while the files in <paramref name="texts"/> keep these texts.</summary>
    public void Add(Key key, MachineSpec spec, IReadOnlyDictionary<string, string> texts)
    {
        var entry = new Entry(key, spec, texts);
        lock (_lock)
        {
            if (_entries.TryGetValue(entry.Key, out var old)) Drop(old);
            _entries[entry.Key] = _recency.AddFirst(entry);
            while (_entries.Count > Capacity) Drop(_recency.Last!);
        }
    }

    private void Drop(LinkedListNode<Entry> node)
    {
        _recency.Remove(node);
        _entries.Remove(node.Value.Key);
    }

    private static bool StillValid(Entry entry)
    {
        try
        {
            foreach (var (file, text) in entry.Texts)
                if (!string.Equals(File.ReadAllText(file), text, StringComparison.Ordinal)) return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        // The reader refused a missing boot image, initrd or module; a hit must not let one through.
        return entry.Spec.Boot is not { } boot
            || (File.Exists(boot.Image) && (boot.Initrd is null || File.Exists(boot.Initrd)) && boot.Modules.All(m => File.Exists(m.Path)));
    }
}
