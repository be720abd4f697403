namespace VirtShell.Engine.State;

/// <summary>
/// A part of a machine (a device, the CPU) whose state goes into a saved state. Everything that can change while the
/// guest runs is written, in an order the same class reads back; settings from the definition are not, since a
/// restore builds the machine from the same definition first. Both calls run while the vCPU is parked or not started.
/// </summary>
public interface IDeviceState
{
    /// <summary>Writes the state; must not change it.</summary>
    void SaveState(StateWriter writer);

    /// <summary>
    /// Reads what <see cref="SaveState"/> wrote into a part built afresh from the same definition. Throws
    /// <see cref="StateFormatException"/> (through the reader's checks) on a value the part could not have had; the
    /// caller then discards the whole machine, so a half-restored part is never run.
    /// </summary>
    void RestoreState(StateReader reader);
}

/// <summary>
/// A device with nothing to save: every register reads back what the definition set or the host gives (a debug exit
/// port, a console port). Saying so is explicit, so that a device nobody looked at makes a save refuse rather than
/// lose its state.
/// </summary>
public interface IStatelessDevice;
