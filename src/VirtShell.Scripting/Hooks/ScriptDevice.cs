using VirtShell.Engine.Buses;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.State;
using VirtShell.Scripting.Definitions;
using VirtShell.Scripting.Runtime;

namespace VirtShell.Scripting.Hooks;

/// <summary>
/// A device written in the definition (<c>scriptDevice({ ports, mmio, read, write })</c>), answering ports and MMIO
/// ranges through the same two functions, which get the port number or the physical address. The guest's CPU thread
/// calls it and waits while read/write run on the script thread, ahead of queued hooks and within the hook budget.
/// A failing or overrunning call fails the machine (IMachineApi.Fail) and from then on the device reads as all ones
/// and ignores writes, like a port nothing drives. Before BeforeBoot the device knows no machine and does the same.
/// Its state is the script's: <c>saveState()</c> returns a JSON-able value, <c>restoreState(value)</c> gets it back in
/// a fresh engine before the restored machine runs; a device without them makes a save refuse.
/// </summary>
internal sealed class ScriptDevice(MachineLink link, ScriptDeviceFunctions functions, SourceLocation source) : IPortDevice, IMmioDevice, IDeviceState
{
    /// <summary>The most JSON text a saveState() may give: device registers, not a disk.</summary>
    private const int MaxStateBytes = 1 << 20;

    private readonly ScriptFunction? read = functions.Read, write = functions.Write;

    private volatile bool _broken;

    public uint ReadPort(ushort port, int size) => Read(port, size);

    public void WritePort(ushort port, int size, uint value) => Call("write", write, port, size, value);

    // The script sees accesses of at most 4 bytes (a JS number holds them exactly); a wider one is split, low half first.
    public ulong ReadMmio(ulong address, int size) =>
        size <= 4 ? Read(address, size) : Read(address, 4) | (ulong)Read(address + 4, size - 4) << 32;

    public void WriteMmio(ulong address, int size, ulong value)
    {
        Call("write", write, address, Math.Min(size, 4), (uint)value);
        if (size > 4) Call("write", write, address + 4, size - 4, (uint)(value >> 32));
    }

    public void SaveState(StateWriter writer)
    {
        if (functions.SaveState is not { } save || functions.RestoreState is null)
            throw new StateNotSupportedException($"this machine's state cannot be saved: the scriptDevice at {source} has no saveState() and restoreState() functions");
        string text;
        try
        {
            text = link.Engine.Run(_ => (string)link.Engine.Host.InvokeMethod("callToJson", save.Index, "scriptDevice saveState"), link.Budget, urgent: true);
        }
        catch (Exception e)
        {
            var (message, location) = ScriptErrors.Describe(e, link.Engine.Sources);
            throw new StateNotSupportedException($"this machine's state cannot be saved: the scriptDevice's saveState() failed at {location ?? source}: {message}");
        }
        if (System.Text.Encoding.UTF8.GetByteCount(text) > MaxStateBytes)
            throw new StateNotSupportedException($"the scriptDevice at {source}: saveState() returned more than {MaxStateBytes >> 20} MiB of JSON");
        writer.WriteString(text);
    }

    public void RestoreState(StateReader reader)
    {
        string text = reader.ReadString(MaxStateBytes, "a scriptDevice's state");
        if (functions.RestoreState is not { } restore)
            throw reader.Error($"the scriptDevice at {source} has no restoreState() function");
        try
        {
            link.Engine.Run(_ => link.Engine.Host.InvokeMethod("callWithJson", restore.Index, "scriptDevice restoreState", text), link.Budget, urgent: true);
        }
        catch (Exception e) when (e is not StateFormatException)
        {
            var (message, location) = ScriptErrors.Describe(e, link.Engine.Sources);
            throw reader.Error($"the scriptDevice's restoreState() failed at {location ?? source}: {message}");
        }
    }

    private uint Read(ulong address, int size)
    {
        uint ones = size switch { 1 => 0xFFu, 2 => 0xFFFFu, _ => 0xFFFF_FFFFu };
        object? result = Call("read", read, address, size, null);
        if (result is null) return ones;
        if (JsValues.AsInteger(result) is long value) return (uint)value & ones;
        Fail("read", address, $"returned {Describe(result)}, not a number");
        return ones;
    }

    /// <summary>Calls read or write; null when there is nothing to call or the call failed (and failed the machine).</summary>
    private object? Call(string function, ScriptFunction? target, ulong address, int size, uint? value)
    {
        if (_broken || link.Api is null || target is null) return null;
        string label = $"scriptDevice {function}";
        try
        {
            return link.Engine.Run(_ =>
            {
                var result = value is uint v
                    ? link.Engine.CallFunction(target.Index, label, (double)address, size, (double)v)
                    : link.Engine.CallFunction(target.Index, label, (double)address, size);
                return result is Microsoft.ClearScript.Undefined ? null : result;
            }, link.Budget, urgent: true);
        }
        catch (Exception e)
        {
            var (message, location) = ScriptErrors.Describe(e, link.Engine.Sources);
            Fail(function, address, e is ScriptTimeoutException or ScriptHeapException ? message : $"failed at {location ?? source}: {message}");
            return null;
        }
    }

    private void Fail(string function, ulong address, string problem)
    {
        _broken = true;
        link.Api?.Fail($"scriptDevice at {source}: {function}(0x{address:x}) {problem}");
    }

    private static string Describe(object value) => value switch
    {
        string s => $"the string '{s}'",
        bool b => b ? "true" : "false",
        _ => "an object",
    };
}
