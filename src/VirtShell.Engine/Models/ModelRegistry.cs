namespace VirtShell.Engine.Models;

/// <summary>The models this process knows, by name.</summary>
public sealed class ModelRegistry(IEnumerable<IMachineModel> models)
{
    private readonly IReadOnlyList<IMachineModel> _models = models.ToList();

    public IReadOnlyList<IMachineModel> All => _models;

    public IMachineModel? Find(string name) =>
        _models.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>A model this build does not have yet: listed, never available.</summary>
public sealed class PlannedModel(string name, string technique) : IMachineModel
{
    public string Name => name;
    public string Technique => technique;
    public ModelAvailability GetAvailability() => ModelAvailability.Unavailable("not implemented");
    public IReadOnlyCollection<string> DeviceTypes => [];
    public void Validate(Definitions.MachineSpec spec) =>
        throw new Definitions.DefinitionException($"model '{name}' is not implemented yet", spec.Source);
    public IMachineRuntime CreateRuntime(Definitions.MachineSpec spec, MachineServices services) =>
        throw new InvalidOperationException($"model '{name}' is not implemented yet");
}
