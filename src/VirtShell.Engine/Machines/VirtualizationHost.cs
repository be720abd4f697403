using VirtShell.Engine.Definitions;
using VirtShell.Engine.Models;
using VirtShell.Engine.Store;

namespace VirtShell.Engine.Machines;

/// <summary>
/// The engine as one process sees it: the models, the definition loader and the machine store, and the live
/// <see cref="Machine"/> objects (one per name, so every caller sees the same state).
/// </summary>
public sealed class VirtualizationHost(MachineStore store, ModelRegistry models, IDefinitionLoader loader)
{
    private readonly Dictionary<string, Machine> _machines = new(StringComparer.Ordinal);

    /// <summary>Where machines are kept on disk.</summary>
    public MachineStore Store { get; } = store;
    /// <summary>The models this process can run.</summary>
    public ModelRegistry Models { get; } = models;
    /// <summary>Reads definition files.</summary>
    public IDefinitionLoader Loader { get; } = loader;

    /// <summary>Stops the definition loads in progress (Ctrl+C while Test-VirtDefinition, New- or Start-VirtMachine loads one).</summary>
    public void InterruptDefinitionLoads() => Loader.InterruptLoads();

    /// <summary>Loads and validates a definition without making a machine.</summary>
    public MachineSpec Validate(string definitionPath, string? name = null)
    {
        using var definition = LoadValid(definitionPath, name);
        return definition.Spec;
    }

    /// <summary>Loads a definition and validates it for its model; the caller disposes it.</summary>
    private LoadedDefinition LoadValid(string definitionPath, string? name)
    {
        var definition = Loader.Load(Path.GetFullPath(definitionPath), name);
        try
        {
            var model = Models.Find(definition.Spec.Model)
                ?? throw new DefinitionException(
                    $"unknown model '{definition.Spec.Model}' (known: {string.Join(", ", Models.All.Select(m => m.Name))})", definition.Spec.Source);
            model.Validate(definition.Spec);
            return definition;
        }
        catch
        {
            definition.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Validates the definition at <paramref name="definitionPath"/> and records a new machine from it, Created;
    /// <paramref name="name"/> overrides the name the definition gives.
    /// </summary>
    /// <exception cref="DefinitionException">The definition is not valid for its model.</exception>
    /// <exception cref="ArgumentException">The name is not a valid machine name.</exception>
    /// <exception cref="MachineExistsException">A machine of that name exists.</exception>
    public Machine Create(string definitionPath, string? name = null)
    {
        if (name != null) MachineStore.ValidateName(name);
        MachineRecord record;
        using (var definition = LoadValid(definitionPath, name))
        {
            MachineStore.ValidateName(definition.Spec.Name);
            record = Store.Create(new MachineRecord { Name = definition.Spec.Name, Spec = definition.Spec }, definition.Files);
        }
        lock (_machines)
        {
            var machine = new Machine(this, record);
            _machines[record.Name] = machine;
            return machine;
        }
    }

    /// <summary>
    /// Replaces the definition of a machine at rest with the one at <paramref name="definitionPath"/>, validated as
    /// <see cref="Create"/> validates (under the machine's name, whatever name the file gives) before anything
    /// changes; the machine keeps a copy of it as it keeps one from creation (see <see cref="StoredDefinition"/>).
    /// </summary>
    /// <exception cref="DefinitionException">The definition is not valid for its model; the stored one is unchanged.</exception>
    /// <exception cref="MachineStateException">The machine is live, or no longer exists.</exception>
    public Machine Redefine(Machine machine, string definitionPath)
    {
        machine.RequireAtRest("change its definition");
        using var definition = LoadValid(definitionPath, machine.Name);
        // Looked up again: the record may have changed (a start from another process) while the definition loaded.
        var current = Find(machine.Name) ?? throw new MachineStateException($"machine '{machine.Name}' no longer exists");
        current.Redefine(record => Store.Redefine(record, definition.Spec, definition.Files));
        return current;
    }

    /// <summary>
    /// The machine called <paramref name="name"/>, or null. A machine recorded as running by a process that has
    /// ended is reported (and saved) as Crashed with reason HostProcessEnded, and the control socket it left is removed.
    /// </summary>
    public Machine? Find(string name)
    {
        lock (_machines)
        {
            MachineRecord? record;
            try { record = Store.Load(name); }
            catch (ArgumentException) { return null; }
            if (record == null)
            {
                if (_machines.TryGetValue(name, out var gone) && !gone.IsLocal) _machines.Remove(name);
                return _machines.GetValueOrDefault(name);
            }
            if (_machines.TryGetValue(name, out var known))
            {
                known.Refresh(Orphaned(record));
                return known;
            }
            var machine = new Machine(this, Orphaned(record));
            _machines[name] = machine;
            return machine;
        }
    }

    /// <summary>
    /// <paramref name="machine"/> as it is now: one run by another process is re-read from its record (as
    /// <see cref="Find"/> does); one deleted meanwhile stays as it was last seen.
    /// </summary>
    public Machine Current(Machine machine) => machine.IsLocal ? machine : Find(machine.Name) ?? machine;

    /// <summary>Every machine in the store, by name, with orphaned runs settled as <see cref="Find"/> does.</summary>
    public IReadOnlyList<Machine> List() => Store.Names().Select(Find).OfType<Machine>().ToList();

    /// <summary>Deletes a machine at rest: releases what its model left on the host, then its folder.</summary>
    /// <exception cref="MachineStateException">The machine is live.</exception>
    public void Remove(Machine machine)
    {
        if (machine.State.IsLive())
            throw new MachineStateException($"machine '{machine.Name}' is {machine.State}; stop it before removing it");
        lock (_machines)
        {
            if (Models.Find(machine.Model) is IReleasesLeftovers model) model.ReleaseLeftovers(machine.Spec);
            Store.Delete(machine.Name);
            _machines.Remove(machine.Name);
        }
    }

    private MachineRecord Orphaned(MachineRecord record)
    {
        if (!record.State.IsLive() || record.OwnerProcessId == Environment.ProcessId || MachineStore.IsOwnerAlive(record)) return record;
        var fixedUp = record with
        {
            State = MachineState.Crashed,
            OwnerProcessId = null,
            OwnerProcessStart = null,
            LastExit = new MachineExit(ExitReason.HostProcessEnded,
                Detail: $"host process {record.OwnerProcessId} ended while the machine ran (killed, or it crashed; see {MachineStore.HostLogFile})"),
        };
        Store.Save(fixedUp);
        File.Delete(Path.Combine(Store.MachineDirectory(record.Name), MachineStore.ControlSocketFile));
        return fixedUp;
    }
}
