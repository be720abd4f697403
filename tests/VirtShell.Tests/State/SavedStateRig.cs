using System.Text;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Engine.State;
using VirtShell.Models.Emulated;
using VirtShell.Tests.Kvm;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.State;

/// <summary>
/// An emulated machine run below the lifecycle, as a host process will: a runtime from a definition on a thread of
/// its own, its console read directly, paused and saved, and a fresh one restored from the saved state.
/// </summary>
internal sealed class SavedStateRig : IDisposable
{
    private readonly Thread _thread;
    private MachineExit? _exit;

    private readonly TimeSpan _patience;

    private SavedStateRig(VirtualMachineRuntime runtime, ConsoleChannel console, TimeSpan patience)
    {
        _patience = patience;
        Runtime = runtime;
        Console = console;
        _thread = new Thread(() => _exit = runtime.Run()) { IsBackground = true, Name = "saved-state test vCPU" };
        _thread.Start();
    }

    public VirtualMachineRuntime Runtime { get; }
    public ConsoleChannel Console { get; }
    public MachineExit? Exit => _exit;

    /// <summary>Boots <paramref name="definition"/> on <paramref name="model"/> (the emulated one by default), its beforeBoot hooks run first.</summary>
    /// <param name="patience">How long <see cref="WaitFor"/> waits; the guest console's usual timeout by default.</param>
    public static SavedStateRig Boot(LoadedDefinition definition, TimeSpan? patience = null, IMachineModel? model = null) =>
        Start(definition, services => (model ?? new EmulatedModel()).CreateRuntime(definition.Spec, services), patience);

    /// <summary>Builds <paramref name="definition"/>'s machine from <paramref name="state"/> on <paramref name="model"/> (the emulated one by default) and runs it.</summary>
    public static SavedStateRig Restore(LoadedDefinition definition, SavedState state, TimeSpan? patience = null, IRestorableModel? model = null) =>
        Start(definition, services => (model ?? new EmulatedModel()).Restore(definition.Spec, services, state), patience);

    /// <summary>Runs the machine <paramref name="build"/> makes, its beforeBoot hooks run first.</summary>
    internal static SavedStateRig Start(LoadedDefinition definition, Func<MachineServices, IMachineRuntime> build, TimeSpan? patience = null)
    {
        var console = new ConsoleChannel(null);
        VirtualMachineRuntime? runtime = null;
        var services = new MachineServices(console, exit => runtime?.RequestStop(exit), _ => { });
        runtime = (VirtualMachineRuntime)build(services);
        definition.Hooks?.BeforeBoot(new Api(runtime, console));
        return new SavedStateRig(runtime, console, patience ?? GuestConsole.Timeout);
    }

    /// <summary>What hooks and script devices reach of the machine.</summary>
    private sealed class Api(VirtualMachineRuntime runtime, ConsoleChannel console) : IMachineApi
    {
        public string Name => "saved";
        public void Log(string message) { }
        public void RequestStop() => runtime.RequestStop(new MachineExit(ExitReason.StoppedByUser));
        public VirtShell.Engine.Memory.GuestMemory Memory => runtime.Memory;
        public ConsoleChannel Console => console;
        public IGuestFiles Files => throw new NotSupportedException("a VM has no guest files");
        public void Fail(string message) => runtime.RequestStop(new MachineExit(ExitReason.HookError, Detail: message));
    }

    /// <summary>Pauses, saves to a byte array, and stops the machine.</summary>
    public byte[] PauseAndSave()
    {
        Runtime.Pause();
        var file = new MemoryStream();
        Runtime.SaveState(file);
        return file.ToArray();
    }

    /// <summary>Everything the guest printed so far.</summary>
    public string Output()
    {
        long offset = 0;
        return Encoding.ASCII.GetString(Console.ReadFrom(ref offset));
    }

    /// <summary>Waits until <paramref name="done"/> holds for the output; returns it.</summary>
    public string WaitFor(Func<string, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + _patience;
        while (DateTime.UtcNow < deadline)
        {
            string text = Output();
            if (done(text)) return text;
            if (_exit != null) throw new InvalidOperationException($"the machine ended ({_exit}) before {what}; it printed: {text}");
            Thread.Sleep(20);
        }
        throw new TimeoutException($"{what} not seen; the guest printed: {Output()}");
    }

    public void Dispose()
    {
        Runtime.RequestStop(new MachineExit(ExitReason.StoppedByUser));
        _thread.Join();
        Runtime.Dispose();
        Console.Dispose();
    }

    /// <summary>A definition in a folder of its own booting <paramref name="asm"/>, assembled, at 0x7C00 in real mode.</summary>
    public static string Definition(string asm, string memory = "1M", string extraDevices = "", string model = "emulated")
    {
        string dir = Directory.CreateTempSubdirectory("virtshell-state-").FullName;
        File.WriteAllBytes(Path.Combine(dir, "guest.bin"), Nasm.Assemble(asm));
        string path = Path.Combine(dir, "machine.js");
        File.WriteAllText(path, $$"""
            import { machine, uart16550, debugExit, scriptDevice, ataDisk, hypercalls } from 'virtshell';
            export default machine({
              name: 'saved', model: '{{model}}', memory: '{{memory}}',
              devices: [ uart16550({ port: 0x3f8, irq: 4, console: true }), debugExit({ port: 0xf4 }), {{extraDevices}} ],
              boot: { image: './guest.bin', load: 0x7c00, mode: 'real' },
            });
            """);
        return path;
    }
}
