using System.Diagnostics;
using VirtShell.Devices;
using VirtShell.Engine.Boot;
using VirtShell.Engine.Console;
using VirtShell.Engine.Cpu;
using VirtShell.Engine.Definitions;

namespace VirtShell.Tests.Kvm.Boot;

/// <summary>
/// A real kernel (a Debian bzImage) through the Linux loader on KVM with our UART. Ring-0 code is emulated on these
/// hosts, so this takes minutes: it runs only when VIRTSHELL_LINUX_KERNEL names a bzImage
/// (apt-get download linux-image-&lt;version&gt;-amd64; dpkg-deb -x; boot/vmlinuz-*), for VIRTSHELL_LINUX_MINUTES (30).
/// The console, time-stamped, goes to virtshell-linux-boot.log in the temp folder as it comes.
/// </summary>
[Collection(KvmCollection.Name)]
public class LinuxKernelBootTests
{
    private static readonly string? Kernel = Environment.GetEnvironmentVariable("VIRTSHELL_LINUX_KERNEL");

    public sealed class LinuxKernelFactAttribute : FactAttribute
    {
        public LinuxKernelFactAttribute()
        {
            if (string.IsNullOrEmpty(Kernel)) Skip = "a long test: set VIRTSHELL_LINUX_KERNEL to a bzImage to run it";
            else if (new KvmFactAttribute().Skip is { } reason) Skip = reason;
        }
    }

    [LinuxKernelFact]
    public void A_debian_kernel_decompresses_itself_and_prints_its_banner_on_ttyS0()
    {
        var minutes = double.Parse(Environment.GetEnvironmentVariable("VIRTSHELL_LINUX_MINUTES") ?? "30");
        using var m = new KvmTestMachine(256 << 20);
        using var console = new ConsoleChannel(null);
        using var uart = new Uart16550(0x3F8, 4, m.Vm.Interrupts, console);
        m.Ports.Register(0x3F8, Uart16550.PortCount, uart, "uart");
        var spec = new BootSpec
        {
            Kind = BootKind.Linux,
            Image = Kernel!,
            CommandLine = "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1",
        };
        m.Cpu.SetState(new LinuxBootLoader().Load(spec, m.Memory));

        string log = Path.Combine(Path.GetTempPath(), "virtshell-linux-boot.log");
        File.WriteAllText(log, "");
        var watch = Stopwatch.StartNew();
        var lines = new List<string>();
        console.LineReceived += line =>
        {
            string stamped = $"[{watch.Elapsed.TotalSeconds,7:F1} s] {line}";
            lock (lines) lines.Add(stamped);
            File.AppendAllText(log, stamped + "\n");
        };
        CpuExit? exit = null;
        var thread = new Thread(() => exit = m.Cpu.Run());
        thread.Start();
        bool banner = false;
        while (!banner && thread.IsAlive && watch.Elapsed < TimeSpan.FromMinutes(minutes))
        {
            Thread.Sleep(1000);
            lock (lines) banner = lines.Any(l => l.Contains("Linux version"));
        }
        m.Cpu.RequestExit();
        thread.Join();
        string transcript;
        lock (lines) transcript = string.Join("\n", lines);
        File.AppendAllText(log, $"after {watch.Elapsed}: exit {exit}\n{m.Cpu.GetState().Dump()}\n");
        Assert.True(banner, $"no kernel banner after {watch.Elapsed}; exit {exit}; console:\n{transcript}");
    }
}
