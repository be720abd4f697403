using VirtShell.Engine.Definitions;
using VirtShell.Engine.Migration;
using VirtShell.Engine.Models;
using VirtShell.Engine.State;

namespace VirtShell.Engine.Machines;

// The source and destination ends of a pre-copy migration (Engine/Migration): the source streams its RAM while it
// runs, is paused for the last pieces, and is then exported with a state without memory; the destination keeps the
// pieces beside that state and its start applies them before the state.
public sealed partial class Machine
{
    private PreCopySender? _preCopy;
    private IEnumerator<byte[]>? _preCopyFinal;

    /// <summary>Whether a pre-copy has paused the machine for its last round: its exports then carry no memory.</summary>
    private bool PreCopyPaused => _preCopyFinal != null;

    /// <summary>
    /// Begins a pre-copy of the running machine: starts its dirty-page log. Returns why it cannot (its model keeps no
    /// such log), or null. A pre-copy already under way starts again.
    /// </summary>
    /// <exception cref="MachineStateException">The machine is not Running in this process.</exception>
    public string? StartPreCopy(PreCopyLimits? limits = null)
    {
        lock (_checkpointLock)
        {
            var runtime = RequireLocal(MachineState.Running, "migrated by pre-copy");
            if (runtime is not VirtualMachineRuntime { DirtyPageTracking: { } tracking } vm)
                return $"model '{Model}' keeps no log of the pages its guest writes";
            DropPreCopy();
            _preCopy = new PreCopySender(vm.Memory, tracking, limits);
            return null;
        }
    }

    /// <summary>
    /// The next piece of the pre-copy: of the live rounds while the machine runs, null once they are over (then call
    /// <see cref="PausePreCopy"/>); after that, of the last round, null once it is sent.
    /// </summary>
    /// <exception cref="MachineStateException">No pre-copy is under way, or the machine stopped.</exception>
    public byte[]? NextPreCopyPiece()
    {
        lock (_checkpointLock)
        {
            var sender = _preCopy ?? throw new MachineStateException($"machine '{Name}' has no pre-copy under way (it was resumed, stopped, or never started one)");
            RequireLocal(PreCopyPaused ? MachineState.Paused : MachineState.Running, "sent");
            if (!PreCopyPaused) return sender.NextPiece();
            return _preCopyFinal!.MoveNext() ? _preCopyFinal.Current : null;
        }
    }

    /// <summary>
    /// Pauses the machine for the pre-copy's last round and returns its first pieces, up to
    /// <paramref name="maxBytes"/> (the rest through <see cref="NextPreCopyPiece"/>); a <see cref="Resume"/> abandons
    /// the pre-copy.
    /// </summary>
    /// <exception cref="MachineStateException">No pre-copy is under way, or the machine is not Running.</exception>
    public PreCopyPause PausePreCopy(int maxBytes = 16 << 20)
    {
        lock (_checkpointLock)
        {
            var sender = _preCopy ?? throw new MachineStateException($"machine '{Name}' has no pre-copy under way");
            Pause();
            _preCopyFinal = sender.FinalPieces().GetEnumerator();
            var stream = new MemoryStream();
            bool more = true;
            while (stream.Length < maxBytes)
            {
                if (!_preCopyFinal.MoveNext())
                {
                    more = false;
                    break;
                }
                stream.Write(PreCopyStream.Frame(_preCopyFinal.Current));
            }
            return new PreCopyPause([.. sender.Rounds], stream.ToArray(), more);
        }
    }

    private void DropPreCopy()
    {
        _preCopyFinal?.Dispose();
        _preCopyFinal = null;
        _preCopy?.Dispose();
        _preCopy = null;
    }

    /// <summary>
    /// The runtime of a Saved machine from its state file: the state as it is, or, when it has no memory (the end of
    /// a pre-copy), a machine built for it whose RAM the stream beside it fills first.
    /// </summary>
    private IMachineRuntime Restore(IRestorableModel restorable, IMachineModel model, MachineSpec spec, MachineServices services, string saved)
    {
        var state = SavedState.Load(saved);
        if (state.Find(MemoryState.Section) != null) return restorable.Restore(spec, services, state);
        string stream = PreCopyStream.Beside(saved);
        if (model is not IPreCopyTarget target || !File.Exists(stream))
            throw new StateFormatException($"{saved} has no memory section and there is no pre-copy stream ({stream}) to fill RAM from");
        var vm = target.BuildIncoming(spec, services);
        try
        {
            PreCopyStream.Apply(stream, new PreCopyReceiver(vm.Memory));
            vm.RestoreState(state, withMemory: false);
            return vm;
        }
        catch
        {
            vm.Dispose();
            throw;
        }
    }
}
