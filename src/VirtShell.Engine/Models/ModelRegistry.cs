using VirtShell.Engine.Definitions;

namespace VirtShell.Engine.Models;

/// <summary>The models this process knows, by name.</summary>
public sealed class ModelRegistry(IEnumerable<IMachineModel> models)
{
    private readonly IReadOnlyList<IMachineModel> _models = models.ToList();

    /// <summary>Every model, in registration order.</summary>
    public IReadOnlyList<IMachineModel> All => _models;

    /// <summary>The model named <paramref name="name"/> (case-insensitive), or null.</summary>
    public IMachineModel? Find(string name) =>
        _models.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The device types and model sections a definition may use with these models.</summary>
    public DefinitionVocabulary Vocabulary => new(
        _models.SelectMany(m => m.DeviceTypes).Distinct().ToList(),
        _models.Select(m => m.DefinitionSection).OfType<string>().Distinct().ToList());
}
