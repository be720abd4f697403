using System.Diagnostics;
using System.Text;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
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

    /// <param name="trace">When above 0, the CPU is single-stepped and the last <paramref name="trace"/> instruction addresses are reported.</param>
    public static Test386Result Run(string dataDir, TimeSpan quiet, int trace = 0)
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
        var trail = new Queue<(ulong, ulong)>();
        var thread = new Thread(() => exit ??= trace > 0 ? Step((VirtualMachineRuntime)runtime, trace, trail) : runtime.Run()) { IsBackground = true };
        thread.Start();
        // Progress is a POST code or console output; a halted test386 makes neither.
        var last = (post.Count, console.Position);
        var idle = Stopwatch.StartNew();
        while (!thread.Join(200))
        {
            var now = (post.Count, console.Position);
            if (now != last) { last = now; idle.Restart(); }
            else if (idle.Elapsed > quiet) runtime.RequestStop(new MachineExit(ExitReason.StoppedByUser, Detail: "no progress"));
        }
        // Where a failing run stopped: test386 halts in its error routine, with the faulting frame on the stack if an exception led there.
        string? where = null;
        if (post.Last != 0xFF && runtime is VirtualMachineRuntime vm)
        {
            var state = vm.Cpu.GetState();
            var stack = vm.Memory.Read(state.Ss.Base + (state.Rsp & 0xFFFF_FFFF), 16);
            where = $"{state.Dump()}\nstack: {Convert.ToHexString(stack)}";
            if (trace > 0) where += "\ntrail (linear EIP): " + string.Join(" ", trail.Select(t => $"{t.Item1 + t.Item2:x}"));
        }
        string text;
        lock (output) text = eeStart < 0 ? "" : output.ToString(eeStart, output.Length - eeStart);
        var (differing, total) = CompareEe(text, Path.Combine(dataDir, "test386-EE-reference.txt"));
        return new Test386Result(post.Last, differing, total, exit?.Reason == ExitReason.GuestPowerOff ? null : $"{exit?.Reason} {exit?.Detail}\n{where}");
    }

    /// <summary>Runs the CPU an instruction at a time, keeping the last <paramref name="depth"/> addresses, until it halts with interrupts off.</summary>
    private static MachineExit Step(VirtualMachineRuntime runtime, int depth, Queue<(ulong, ulong)> trail)
    {
        var cpu = (VirtShell.Cpu.Interpreter.InterpreterCpu)runtime.Cpu;
        while (true)
        {
            lock (trail)
            {
                trail.Enqueue(cpu.NextInstruction);
                if (trail.Count > depth) trail.Dequeue();
            }
            var exit = cpu.StepInstruction();
            if (exit is null) continue;
            return new MachineExit(ExitReason.StoppedByUser, Detail: $"{exit.Reason} {exit.Detail}");
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
