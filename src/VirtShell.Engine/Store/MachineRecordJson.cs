using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace VirtShell.Engine.Store;

/// <summary>
/// machine.json's serializer, generated at build time: a host process reads and writes the record on its way to
/// Running, and the reflection that a plain <see cref="JsonSerializer"/> call does first in a fresh process cost
/// more than the rest of the start. The settings a definition gives are typed <c>object</c>; the kinds a definition
/// can hold are generated too, and reflection is only the fallback for any other.
/// </summary>
[JsonSerializable(typeof(MachineRecord))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(double))]
[JsonSerializable(typeof(List<object?>))]
[JsonSerializable(typeof(Dictionary<string, object?>))]
internal sealed partial class MachineRecordJson : JsonSerializerContext
{
    /// <summary>The options machine.json is read and written with.</summary>
    public static readonly JsonSerializerOptions RecordOptions = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        TypeInfoResolver = JsonTypeInfoResolver.Combine(Default, new DefaultJsonTypeInfoResolver()),
    };
}
