using System.Text;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.RiscV;

/// <summary>Debian's OpenSBI (generic platform, fw_jump) on the riscv64 virt board: it reads our device tree, finds the UART and prints its banner.</summary>
public sealed class OpenSbiBootTests
{
    public const string FwJump = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin";

    /// <summary>Skips a test when OpenSBI's firmware is not installed.</summary>
    public sealed class OpenSbiFactAttribute : FactAttribute
    {
        public OpenSbiFactAttribute()
        {
            if (!File.Exists(FwJump)) Skip = $"{FwJump} missing: apt-get install opensbi";
        }
    }

    /// <summary>Starts <paramref name="definition"/> and returns the console once it contains <paramref name="expected"/> (or the run ends, or 120 s pass).</summary>
    public static string RunUntil(string definition, string expected, TimeSpan? timeout = null)
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory("virtshell-riscv-home-").FullName);
        var vm = TestDefinitions.Host(store).Create(definition);
        vm.Start();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(120));
        string console = "";
        while (DateTime.UtcNow < deadline)
        {
            long offset = 0;
            console = Encoding.ASCII.GetString(vm.Console!.ReadFrom(ref offset));
            if (console.Contains(expected) || !MachineStates.IsLive(vm.State)) break;
            Thread.Sleep(100);
        }
        if (MachineStates.IsLive(vm.State)) vm.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        Assert.True(console.Contains(expected), $"no '{expected}' on the console; exit {vm.LastExit} {vm.LastExit?.Detail}; console:\n{console[Math.Max(0, console.Length - 6000)..]}");
        return console;
    }

    [OpenSbiFact]
    public void OpenSbiPrintsItsBannerAndReadsTheDeviceTree()
    {
        string console = RunUntil(Path.Combine(RepoPaths.Root, "machine-defs/opensbi-riscv64.js"), "Boot HART PMP Granularity");
        Assert.Contains("OpenSBI v1.1", console);
        Assert.Contains("Platform Name             : VirtShell riscv64 virt", console);
        Assert.Contains("Platform Console Device   : uart8250", console);
        Assert.Contains("Boot HART Base ISA        : rv64imafdc", console);
        Assert.Contains("Platform Timer Device     : aclint-mtimer @ 10000000Hz", console);
        Assert.Contains("Boot HART Priv Version    : v1.12", console);
        Assert.Matches(@"Boot HART ISA Extensions  : .*sstc", console);
    }
}
