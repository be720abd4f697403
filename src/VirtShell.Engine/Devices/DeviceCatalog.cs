namespace VirtShell.Engine.Devices;

/// <summary>
/// Every device type a build offers, each registered once with the models that allow it. Models take their types
/// from here, the definition module makes a constructor for each (<c>uart16550({...})</c>), and validation messages
/// list them from here, so adding a device type means its own files and one line in the table that fills this.
/// </summary>
public sealed class DeviceCatalog
{
    private readonly IReadOnlyList<(IDeviceType Type, IReadOnlyCollection<string> Models)> _entries;

    /// <summary>A catalog of <paramref name="entries"/>: each type with the names of the models that allow it.</summary>
    /// <exception cref="ArgumentException">Two entries have the same type name.</exception>
    public DeviceCatalog(IEnumerable<(IDeviceType Type, IReadOnlyCollection<string> Models)> entries)
    {
        _entries = entries.ToList();
        var twice = _entries.GroupBy(e => e.Type.Name).FirstOrDefault(g => g.Count() > 1);
        if (twice != null) throw new ArgumentException($"device type '{twice.Key}' is registered twice", nameof(entries));
    }

    /// <summary>Every registered type, in registration order.</summary>
    public IReadOnlyList<IDeviceType> All => _entries.Select(e => e.Type).ToList();

    /// <summary>The type named <paramref name="name"/> (case-sensitive, as definitions spell it), or null.</summary>
    public IDeviceType? Find(string name) => _entries.FirstOrDefault(e => e.Type.Name == name).Type;

    /// <summary>The types a definition for <paramref name="model"/> may use.</summary>
    public IReadOnlyList<IDeviceType> For(string model) =>
        _entries.Where(e => e.Models.Contains(model)).Select(e => e.Type).ToList();

    /// <summary>This catalog and one more type: how a test or an extension adds a device without editing the table.</summary>
    public DeviceCatalog With(IDeviceType type, params string[] models) =>
        new(_entries.Append((type, (IReadOnlyCollection<string>)models)));
}
