using System.Text.Json;
using VirtShell.Engine.Machines;

namespace VirtShell.Models.Comparison;

/// <summary>How a measured guest must end for its run to count.</summary>
internal sealed record ExpectedExit(ExitReason Reason, int? Status);

/// <summary>
/// One measure on one model: a definition for a given length (iterations, round trips or bytes), how its guest ends,
/// and where the search for a length long enough starts and stops.
/// </summary>
internal sealed record Workload(string What, Func<long, string> WriteDefinition, ExpectedExit Exit, long ShortLength, long Cap);

/// <summary>
/// What Compare-VirtModel runs on one model. <see cref="WriteStartDefinition"/> is a guest that prints and then keeps
/// running (start time, memory); the others end by themselves.
/// </summary>
internal sealed record ModelWorkloads(
    string StartWhat, Func<string> WriteStartDefinition,
    Workload Cpu, Workload RoundTrip, Workload Bulk,
    bool GuestAdapted, string Adaptation, string MemoryCaveat = "")
{
    /// <summary>Instructions in one round of loop64.inc.</summary>
    public const int InstructionsPerIteration = 10;

    /// <summary>
    /// The workloads of a model this comparison knows, written under <paramref name="work"/>; null for any other.
    /// The three VM models run the same ring-3 loop image; only how it powers off and which exit it makes differ.
    /// </summary>
    public static ModelWorkloads? For(string model, ComparisonGuests guests, string work)
    {
        var writer = new DefinitionWriter(Path.Combine(work, model));
        return model switch
        {
            "emulated" or "hardware" => PcModel(model, guests, writer),
            "paravirtual" => Paravirtual(guests, writer),
            "container" => Container(guests, writer),
            _ => null,
        };
    }

    private const string Uart = "device('uart16550', { port: 0x3f8, irq: 4, console: true })";
    private const string DebugExit = "device('debugExit', { port: 0xf4 })";
    private const string VirtioConsole = "device('virtioConsole', { address: 0xd0000000, irq: 5 })";
    private static readonly ExpectedExit DebugExitZero = new(ExitReason.DebugExit, 1);   // (0 << 1) | 1
    private static readonly ExpectedExit PowerOffZero = new(ExitReason.GuestPowerOff, 0);
    private const string KvmMemoryCaveat = " (KVM's kernel memory is not counted)";

    private static ModelWorkloads PcModel(string model, ComparisonGuests guests, DefinitionWriter w)
    {
        Workload Loop(string what, Ring3LoopKind kind, long shortLength, long cap) => new(what, n =>
            w.Vm($"{kind}-{n}", model, "16M", [Uart, DebugExit], w.BootSector(guests.Ring3LoopImage(kind, n), $"ring3-{kind}-{n}.img")),
            DebugExitZero, shortLength, cap);
        return new(
            "hello.bin greets on COM1",
            () => w.Vm("start", model, "1M", [Uart, DebugExit], w.Flat(guests.Require(ComparisonGuests.Hello), 0x7C00, "real")),
            // The interpreter is two orders of magnitude slower than KVM: its search for a length starts lower.
            Loop("ring3-loop.bin in long mode, ring 3", Ring3LoopKind.Cpu, model == "emulated" ? 100_000 : 1_000_000, 2_000_000_000),
            Loop("OUT to an unclaimed port from ring 3", Ring3LoopKind.PortExits, 20_000, 200_000_000),
            Loop("COM1 bytes from ring 3, polling LSR (2 port accesses a byte)", Ring3LoopKind.UartBytes, 16_384, 1_000_000_000),
            false, "none: the same boot sectors as on the other PC model",
            model == "hardware" ? KvmMemoryCaveat : "");
    }

    private static ModelWorkloads Paravirtual(ComparisonGuests guests, DefinitionWriter w)
    {
        string KitConfig(string settings)
        {
            string path = Path.Combine(w.Directory, $"kit-{settings.Replace(' ', '-').Replace('=', '-')}.cfg");
            File.WriteAllText(path, settings);
            return path;
        }
        string Kit(string name, string settings) => w.Vm(name, "paravirtual", "4M",
            [VirtioConsole, $"device('hypercalls', {{ port: 0x5650, blobs: {{ 'kit-config': {Js(KitConfig(settings))} }} }})"],
            w.Flat(guests.Require(ComparisonGuests.Kit), 0x100000, "protected"));
        Workload Loop(string what, Ring3LoopKind kind, long shortLength, long cap) => new(what, n =>
            w.Vm($"{kind}-{n}", "paravirtual", "16M", [VirtioConsole, "device('hypercalls', { port: 0x5650 })"],
                w.BootSector(guests.Ring3LoopImage(kind, n), $"ring3-{kind}-{n}.img")),
            PowerOffZero, shortLength, cap);
        return new(
            "the guest kit greets on virtio-console (its drivers run in ring 0)",
            () => Kit("start", "mode=idle"),
            Loop("ring3-loop.bin in long mode, ring 3, powered off by hypercall", Ring3LoopKind.Cpu, 1_000_000, 2_000_000_000),
            Loop("virtio-mmio QueueNotify writes from ring 3 (no buffers queued)", Ring3LoopKind.VirtioNotify, 20_000, 200_000_000),
            new("the guest kit's virtio-console, 1 MiB per notification", n => Kit($"bulk-{n}", $"mode=console bytes={n}"),
                new ExpectedExit(ExitReason.GuestPowerOff, 42), 16L << 20, 4L << 30),
            true, "yes: the guest kit brings its own virtio drivers and powers off by hypercall", KvmMemoryCaveat);
    }

    private static ModelWorkloads Container(ComparisonGuests guests, DefinitionWriter w)
    {
        // The loop program goes into the bind-mounted work folder with its execute bit (nasm writes 0644); the
        // container model exists only on Linux.
        string program = Path.Combine(w.Directory, ComparisonGuests.LinuxLoop);
        File.Copy(guests.Require(ComparisonGuests.LinuxLoop), program, overwrite: true);
        if (OperatingSystem.IsLinux())
            File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
                UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        Workload Run(string what, string name, Func<long, string[]> args, long shortLength, long cap) =>
            new(what, n => w.Container($"{name}-{n}", args(n)), PowerOffZero, shortLength, cap);
        return new(
            "busybox sh echoes a line",
            () => w.Container("start", ["/bin/sh", "-c", "echo up; read line"]),
            // Through sh: the engine checks args[0] in the rootfs before the bind mount exists.
            Run("ring3-loop-linux.bin: the same loop as a static Linux program, native", "cpu",
                n => ["/bin/sh", "-c", $"exec /compare/{ComparisonGuests.LinuxLoop} {n}"], 10_000_000, 20_000_000_000),
            Run("dd bs=1 from /dev/zero to the console pipe (a read and a 1-byte write each)", "pipe",
                n => ["/bin/dd", "if=/dev/zero", "bs=1", $"count={n}"], 100_000, 1_000_000_000),
            Run("dd bs=64k from /dev/zero to the console pipe", "bulk",
                n => ["/bin/dd", "if=/dev/zero", "bs=65536", $"count={Math.Max(1, n >> 16)}"], 16L << 20, 64L << 30),
            false, "no, but it must be a program for the host's own kernel", " (the container's own processes are the guest)");
    }

    internal static string Js(string text) => JsonSerializer.Serialize(text);

    /// <summary>Writes definitions (and the images they boot) into one folder; returns their paths.</summary>
    internal sealed class DefinitionWriter
    {
        public DefinitionWriter(string directory)
        {
            Directory = directory;
            System.IO.Directory.CreateDirectory(directory);
        }

        public string Directory { get; }

        public string BootSector(byte[] image, string fileName)
        {
            string path = Path.Combine(Directory, fileName);
            File.WriteAllBytes(path, image);
            return $"{{ type: 'bootSector', image: {Js(path)} }}";
        }

        public string Flat(string image, uint load, string mode) => $"{{ image: {Js(image)}, load: 0x{load:X}, mode: '{mode}' }}";

        public string Vm(string name, string model, string memory, IEnumerable<string> devices, string boot) => Write(name, $$"""
            import { machine, device } from 'virtshell';
            export default machine({
              name: 'compare', model: '{{model}}', memory: '{{memory}}',
              devices: [ {{string.Join(", ", devices)}} ],
              boot: {{boot}},
            });
            """);

        public string Container(string name, IEnumerable<string> args) => Write(name, $$"""
            import { machine } from 'virtshell';
            export default machine({
              name: 'compare', model: 'container', memory: '64M',
              container: {
                rootfs: { busybox: true },
                process: { args: [ {{string.Join(", ", args.Select(Js))}} ] },
                mounts: [ { type: 'bind', source: {{Js(Directory)}}, target: '/compare', readOnly: true } ],
                network: 'none',
              },
            });
            """);

        private string Write(string name, string text)
        {
            string path = Path.Combine(Directory, name + ".js");
            File.WriteAllText(path, text);
            return path;
        }
    }
}
