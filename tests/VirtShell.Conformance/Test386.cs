using VirtShell.Cpu.Interpreter;
using System.Diagnostics;
using System.Text;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Models;
using VirtShell.Models.Emulated;

namespace VirtShell.Conformance;

/// <summary>How far test386 got: its last POST code, and how its POST 0xEE trace compares with the reference.</summary>
public sealed record Test386Result(int LastPost, int EeLinesDiffering, int EeLines, string? Exit)
{
    public override string ToString() => $"test386: POST 0x{LastPost:X2}, {EeLinesDiffering} EE lines differ";
}

/// <summary>
/// Runs test386.asm as the firmware of an emulated PC (its ROM at the reset vector, COM1, the POST port 0x190) until
/// it reaches POST 0xFF, or stops making progress: a failing check halts with interrupts off.
/// </summary>
public static class Test386
{
    public const ushort PostPort = 0x190;
    private const int EeCode = 0xEE;

    public static string? FindDataDirectory(string? explicitDir = null) =>
        TestData.Find(explicitDir, "VIRTSHELL_TEST386_DIR", "test386", "test386.bin");

    /// <param name="trace">When above 0, the CPU is single-stepped from POST code <paramref name="traceFrom"/> on, and the
    /// last <paramref name="trace"/> instruction addresses are reported.</param>
    public static Test386Result Run(string dataDir, TimeSpan quiet, int trace = 0, int traceFrom = 0, TierRun? tier = null)
    {
        var post = new PostRecorder();
        using var console = new ConsoleChannel(null);
        var spec = new MachineSpec
        {
            Name = "test386",
            Model = "emulated",
            MemoryBytes = 4 << 20,
            Devices =
            [
                new DeviceSpec { Type = "uart16550", Settings = new Dictionary<string, object?> { ["port"] = 0x3F8L, ["irq"] = 4L } },
                new DeviceSpec { Type = "scriptDevice", Settings = new Dictionary<string, object?> { ["ports"] = new List<object?> { (long)PostPort } }, Implementation = post },
            ],
            Boot = new BootSpec { Kind = BootKind.Firmware, Image = Path.Combine(dataDir, "test386.bin") },
            Sections = (tier ?? TierRun.Interpreter).Section(),
        };
        var model = new EmulatedModel();
        model.Validate(spec);
        var output = new StringBuilder();
        var eeStart = -1;
        post.Written += code => { if (code == EeCode) lock (output) eeStart = output.Length; };
        console.LineReceived += line => { lock (output) output.Append(line).Append('\n'); };
        MachineExit? exit = null;
        using var runtime = model.CreateRuntime(spec, new MachineServices(console, e => exit ??= e, _ => { }));
        post.Written += code => { if (code == 0xFF) runtime.RequestStop(new MachineExit(ExitReason.GuestPowerOff)); };
        var tracer = trace > 0 ? new Tracer((VirtualMachineRuntime)runtime, trace, traceFrom) : null;
        if (tracer != null) post.Written += tracer.PostCode;
        var thread = new Thread(() => exit ??= tracer?.Run() ?? runtime.Run()) { IsBackground = true };
        thread.Start();
        // Progress is a POST code, console output or a block compiled: at compileThreshold 1 POST 0Eh compiles each of
        // the 6,312 variants of its self-modifying LEA routine afresh, about 20 CPU seconds without a POST code. A
        // failing test386 makes none of them: it spins in its error routine (the CPU limit) or halts (the wall limit).
        var compiler = (runtime as VirtualMachineRuntime)?.Cpu as InterpreterCpu;
        var watch = new ProgressWatch(quiet, 6 * quiet);
        while (!thread.Join(200))
        {
            if (watch.Stalled((post.Count, console.Position, compiler?.Translation.Blocks ?? 0)))
            {
                tracer?.Stop();
                runtime.RequestStop(new MachineExit(ExitReason.StoppedByUser, Detail: "no progress"));
            }
        }
        // Where a failing run stopped: test386 halts in its error routine, with the faulting frame on the stack if an exception led there.
        string? where = null;
        if (post.Last != 0xFF && runtime is VirtualMachineRuntime { Cpu: IX86Cpu cpu } vm)
        {
            var state = cpu.GetState();
            var stack = vm.Memory.Read(state.Ss.Base + (state.Rsp & 0xFFFF_FFFF), 16);
            where = $"{state.Dump()}\nstack: {Convert.ToHexString(stack)}";
            if (tracer != null) where += "\ntrail (linear EIP): " + tracer.Trail;
        }
        string text;
        lock (output) text = eeStart < 0 ? "" : output.ToString(eeStart, output.Length - eeStart);
        var (differing, total) = CompareEe(text, Path.Combine(dataDir, "test386-EE-reference.txt"));
        return new Test386Result(post.Last, differing, total, exit?.Reason == ExitReason.GuestPowerOff ? null : $"{exit?.Reason} {exit?.Detail}\n{where}");
    }

    /// <summary>
    /// Runs the CPU at full speed until POST code <c>from</c>, then an instruction at a time, keeping the last
    /// <c>depth</c> addresses, until it halts or is stopped.
    /// </summary>
    private sealed class Tracer(VirtualMachineRuntime runtime, int depth, int from)
    {
        private readonly VirtShell.Cpu.Interpreter.InterpreterCpu _cpu = (VirtShell.Cpu.Interpreter.InterpreterCpu)runtime.Cpu;
        private readonly Queue<(ulong CsBase, ulong Eip)> _trail = new();
        private volatile bool _stepping = from == 0, _stopped;

        public string Trail { get { lock (_trail) return string.Join(" ", _trail.Select(t => $"{t.CsBase + t.Eip:x}")); } }

        public void PostCode(int code)
        {
            if (_stepping || code < from) return;
            _stepping = true;
            _cpu.RequestExit();
        }

        public void Stop()
        {
            _stopped = true;
            _cpu.RequestExit();
        }

        public MachineExit Run()
        {
            while (!_stopped)
            {
                var exit = _stepping ? Step() : _cpu.Run();
                if (exit is { Reason: not CpuExitReason.ExitRequested }) return new MachineExit(ExitReason.StoppedByUser, Detail: $"{exit.Reason} {exit.Detail}");
            }
            return new MachineExit(ExitReason.StoppedByUser, Detail: "no progress");
        }

        private CpuExit? Step()
        {
            lock (_trail)
            {
                // A jump to itself (the error routine's ring-3 spin) would push everything else out.
                var next = _cpu.NextInstruction;
                if (_trail.Count > 0 && _trail.Last() == next) return _cpu.StepInstruction();
                _trail.Enqueue(next);
                if (_trail.Count > depth) _trail.Dequeue();
            }
            return _cpu.StepInstruction();
        }
    }

    /// <summary>Reference lines with no equal line at the same place in the trace, plus trace lines past the reference's end.</summary>
    private static (int Differing, int Total) CompareEe(string trace, string referencePath)
    {
        var ours = trace.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd()).ToArray();
        var reference = File.ReadLines(referencePath).Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToArray();
        int differing = Math.Abs(ours.Length - reference.Length);
        for (int i = 0; i < Math.Min(ours.Length, reference.Length); i++)
            if (ours[i] != reference[i]) differing++;
        return (differing, reference.Length);
    }

    private sealed class PostRecorder : IPortDevice
    {
        public int Last { get; private set; } = -1;
        public int Count { get; private set; }
        public event Action<int>? Written;

        public uint ReadPort(ushort port, int size) => (uint)Math.Max(Last, 0);

        public void WritePort(ushort port, int size, uint value)
        {
            Last = (int)(value & 0xFF);
            Count++;
            Written?.Invoke(Last);
        }
    }
}
