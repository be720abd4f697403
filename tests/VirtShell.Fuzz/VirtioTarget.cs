using VirtShell.Devices;
using VirtShell.Devices.Pci;
using VirtShell.Devices.Virtio;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Console;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Devices;
using VirtShell.Engine.Interrupts;
using VirtShell.Engine.Memory;
using VirtShell.Engine.Models;

namespace VirtShell.Fuzz;

/// <summary>
/// The input is a driver's program against a paravirtual machine with 1 MiB of RAM and virtio rng, console and blk,
/// each once on virtio-mmio and once on virtio-pci: register reads and writes on either transport, PCI config
/// cycles, writes to guest RAM (descriptors, rings, buffers), notifications and console input. A device that ends up
/// in DEVICE_NEEDS_RESET is the normal answer to a broken queue; any exception is a finding. Every input gets a
/// fresh machine and fresh disk images, so it replays alone.
/// </summary>
internal sealed class VirtioTarget : IFuzzTarget
{
    public const ulong RamSize = 0x10_0000, MmioBase = 0xD000_0000;
    /// <summary>Devices 0–2 are on virtio-mmio, 3–5 the same types on virtio-pci (slots 1–3, BARs in that order).</summary>
    public const int DeviceCount = 6;
    private static readonly string[] Types = ["virtioRng", "virtioConsole", "virtioBlk"];
    private const int DiskBytes = 64 * 512;
    private const int MaxOperations = 4096;

    // The disk images are rewritten for every input: in memory where the host has a tmpfs for it.
    private readonly string _folder = FuzzTargets.ScratchFolder("virtio");
    private readonly byte[] _blank = new byte[DiskBytes];

    public string Name => "virtio";

    public string Run(ReadOnlySpan<byte> input)
    {
        using var machine = new Machine(_folder, _blank);
        var reader = new InputReader(input);
        int n = 0;
        for (; n < MaxOperations && !reader.AtEnd; n++) machine.Execute(ref reader);
        return $"{n} operations; {machine.Describe()}";
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private sealed class NoInterrupts : IInterruptController
    {
        private readonly InterruptInputs _inputs = new(24, (_, _) => { });

        public InterruptLine Connect(int irq) => _inputs.Connect(irq);
    }

    private sealed class Machine : IDisposable
    {
        private readonly GuestMemory _memory = new();
        private readonly ConsoleChannel _console = new(null);
        private readonly DeviceContext _context;
        private readonly List<IDisposable> _devices = [];
        private readonly ulong[] _registers = new ulong[DeviceCount];

        public Machine(string folder, byte[] blank)
        {
            _memory.AddRam(0, RamSize);
            _context = new DeviceContext(new IoPortBus(), new MmioBus(), new NoInterrupts(), _memory, new MachineServices(_console, _ => { }, _ => { }));
            var source = new SourceLocation(Path.Combine(folder, "fuzz.js"), 1);
            for (int i = 0; i < DeviceCount; i++)
            {
                bool pci = i >= Types.Length;
                string type = Types[i % Types.Length];
                var settings = new Dictionary<string, object?> { ["transport"] = pci ? "pci" : "mmio", ["irq"] = (long)(5 + i) };
                if (pci) settings["slot"] = (long)(1 + i - Types.Length);
                else settings["address"] = (long)(MmioBase + (ulong)i * VirtioMmioTransport.WindowSize);
                if (type == "virtioBlk")
                {
                    string image = $"disk{i}.img";
                    File.WriteAllBytes(Path.Combine(folder, image), blank);
                    settings["image"] = image;
                }
                var spec = new DeviceSpec { Type = type, Source = source, Settings = settings };
                var deviceType = BuiltInDevices.Catalog.Find(type)!;
                deviceType.Validate(spec);
                _devices.Add(deviceType.Attach(spec, _context)!);
            }
            // Memory decoding on, as firmware leaves it; BARs were placed one after another from the window's base.
            for (int slot = 1; slot <= Types.Length; slot++)
            {
                ConfigAddress(slot, 0x04);
                _context.Ports.Write(PciHostBridge.DataPort, 2, 0x0002);
            }
            for (int i = 0; i < DeviceCount; i++)
                _registers[i] = i < Types.Length ? MmioBase + (ulong)i * VirtioMmioTransport.WindowSize
                    : PciHostBridge.WindowBase + (ulong)(i - Types.Length) * VirtioPciTransport.BarSize;
        }

        private void ConfigAddress(int slot, int register) =>
            _context.Ports.Write(PciHostBridge.AddressPort, 4, 0x8000_0000u | (uint)slot << 11 | (uint)register);

        private static bool IsPci(int device) => device >= Types.Length;
        private static ulong Window(int device) => IsPci(device) ? VirtioPciTransport.BarSize : VirtioMmioTransport.WindowSize;

        /// <summary>One operation: its first byte says which (low 3 bits), the bytes after it what.</summary>
        public void Execute(ref InputReader r)
        {
            switch (r.Byte() & 7)
            {
                case 0: // register write on a device's transport
                {
                    int device = r.Byte() % DeviceCount;
                    ulong offset = r.UInt16() % Window(device);
                    int size = 1 << (r.Byte() & 3);
                    _context.Mmio.Write(_registers[device] + offset, size, r.UInt64());
                    break;
                }
                case 1: // register read
                {
                    int device = r.Byte() % DeviceCount;
                    ulong offset = r.UInt16() % Window(device);
                    _context.Mmio.Read(_registers[device] + offset, 1 << (r.Byte() & 3));
                    break;
                }
                case 2: // PCI configuration write through 0xCF8..0xCFF
                {
                    ushort port = (ushort)(PciHostBridge.AddressPort + (r.Byte() & 7));
                    int size = 1 << (r.Byte() % 3);
                    _context.Ports.Write(port, size, r.UInt32());
                    break;
                }
                case 3: // PCI configuration read
                {
                    ushort port = (ushort)(PciHostBridge.AddressPort + (r.Byte() & 7));
                    _context.Ports.Read(port, 1 << (r.Byte() % 3));
                    break;
                }
                case 4: // the driver writes guest RAM: descriptors, rings, request headers
                {
                    ulong address = r.UInt24() % RamSize;
                    var bytes = r.Bytes(r.Byte());
                    int fits = (int)Math.Min((ulong)bytes.Length, RamSize - address);
                    _memory.Write(address, bytes[..fits]);
                    break;
                }
                case 5: // a whole driver bring-up, so inputs reach the queues without rediscovering the handshake
                    BringUp(r.Byte() % DeviceCount, r.Byte(), r.Byte() & 1, r.Byte(), r.Byte());
                    break;
                case 6: // notify a queue
                {
                    int device = r.Byte() % DeviceCount;
                    uint queue = (uint)(r.Byte() % 3);
                    if (IsPci(device)) _context.Mmio.Write(_registers[device] + 0x3000 + 4 * queue, 2, queue);
                    else _context.Mmio.Write(_registers[device] + 0x050, 4, queue);
                    break;
                }
                case 7: // console input from the host
                    _console.SendInput(r.Bytes(r.Byte() % 64));
                    break;
            }
        }

        /// <summary>
        /// Reset, ACKNOWLEDGE, DRIVER, features (VERSION_1 and what <paramref name="featureBits"/> picks of
        /// INDIRECT_DESC, EVENT_IDX and the device's bit 0–5), FEATURES_OK, one queue at a 16 KiB slot of RAM
        /// (descriptors, then available ring at +0x1000, used ring at +0x2000), ready, DRIVER_OK.
        /// </summary>
        private void BringUp(int device, byte featureBits, int queue, byte sizeLog, byte slot)
        {
            uint low = (uint)(featureBits & 0x3F) | (uint)(featureBits >> 6 & 1) << 28 | (uint)(featureBits >> 7) << 29;
            ushort size = (ushort)(1 << (sizeLog % 9));
            ulong desc = (ulong)(slot % 48) * 0x4000, avail = desc + 0x1000, used = desc + 0x2000;
            ulong at = _registers[device];
            if (IsPci(device))
            {
                void W(ulong offset, int width, ulong value) => _context.Mmio.Write(at + offset, width, value);
                W(0x14, 1, 0); W(0x14, 1, 1); W(0x14, 1, 3);
                W(0x08, 4, 0); W(0x0C, 4, low); W(0x08, 4, 1); W(0x0C, 4, 1);
                W(0x14, 1, 11);
                W(0x16, 2, (ulong)queue); W(0x18, 2, size);
                W(0x20, 4, desc); W(0x24, 4, 0); W(0x28, 4, avail); W(0x2C, 4, 0); W(0x30, 4, used); W(0x34, 4, 0);
                W(0x1C, 2, 1);
                W(0x14, 1, 15);
            }
            else
            {
                void W(ulong offset, ulong value) => _context.Mmio.Write(at + offset, 4, value);
                W(0x70, 0); W(0x70, 1); W(0x70, 3);
                W(0x24, 0); W(0x20, low); W(0x24, 1); W(0x20, 1);
                W(0x70, 11);
                W(0x30, (ulong)queue); W(0x38, size);
                W(0x80, desc); W(0x84, 0); W(0x90, avail); W(0x94, 0); W(0xA0, used); W(0xA4, 0);
                W(0x44, 1);
                W(0x70, 15);
            }
        }

        /// <summary>Each device's status and used indices, e.g. "rng-mmio F:1", "blk-pci NEEDS_RESET".</summary>
        public string Describe() => string.Join(", ", _devices.Cast<VirtioDevice>().Select((d, i) =>
            $"{Types[i % Types.Length]}-{(IsPci(i) ? "pci" : "mmio")} {d.Status}" +
            string.Concat(d.Queues.Select(q => q.IsReady ? $" used={q.UsedIndex}" : ""))));

        public void Dispose()
        {
            foreach (var device in _devices) device.Dispose();
            _console.Dispose();
            _memory.Dispose();
        }
    }
}
