using Microsoft.ClearScript;
using Microsoft.ClearScript.JavaScript;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Memory;

namespace VirtShell.Scripting.Hooks;

/// <summary>
/// The host side of the <c>vm</c> object hooks receive. Only the members marked here are visible to script, and
/// the object itself is captured inside hostbridge.js closures, so definitions see plain JS values only. Public
/// only because ClearScript binds to public types; nothing outside this assembly can make one.
/// </summary>
[DefaultScriptUsage(ScriptAccess.None)]
public sealed class MachineBridge
{
    private readonly IMachineApi _api;

    internal MachineBridge(IMachineApi api) => _api = api;

    [ScriptMember("name", ScriptAccess.ReadOnly)]
    public string Name => _api.Name;

    [ScriptMember("log")]
    public void Log(string message) => _api.Log(message);

    [ScriptMember("stop")]
    public void Stop() => _api.RequestStop();

    [ScriptMember("sendConsole")]
    public void SendConsole(string text) => _api.Console.SendInput(text);

    [ScriptMember("readMemory")]
    public void ReadMemory(double address, object target)
    {
        var bytes = (ITypedArray<byte>)target;
        var data = _api.Memory.Read(Address(address), checked((int)bytes.Length));
        bytes.Write(data, 0, (ulong)data.Length, 0);
    }

    [ScriptMember("writeMemory")]
    public void WriteMemory(double address, object source) =>
        _api.Memory.Write(Address(address), ((ITypedArray<byte>)source).ToArray());

    [ScriptMember("writeFile")]
    public void WriteFile(string path, object content, double mode) =>
        _api.Files.WriteFile(path, content is string text ? System.Text.Encoding.UTF8.GetBytes(text) : ((ITypedArray<byte>)content).ToArray(),
            mode >= 0 && mode <= 0xFFF && mode == Math.Floor(mode) ? (uint)mode : throw new ArgumentException($"{mode} is not a file mode"));

    [ScriptMember("readFile")]
    public string ReadFile(string path) => System.Text.Encoding.UTF8.GetString(_api.Files.ReadFile(path));

    private static ulong Address(double address) =>
        address >= 0 && address == Math.Floor(address) && address < 1UL << 52
            ? (ulong)address
            : throw new GuestMemoryException($"{address} is not a guest physical address");
}
