using VirtShell.Devices.RiscV;
using VirtShell.Engine.Machines;
using VirtShell.Engine.State;
using VirtShell.Engine.Store;
using VirtShell.Tests.Models;
using VirtShell.Tests.State;

namespace VirtShell.Tests.RiscV;

/// <summary>A riscv64 machine saved mid-run goes on, in a machine built afresh from the saved state, where it was.</summary>
public sealed class RiscvSavedStateTests
{
    [LinuxRiscvBootTests.RiscvLinuxFact]
    public void Linux_at_its_shell_answers_uname_after_a_save_and_a_restore_into_a_fresh_machine()
    {
        // No hooks, which would type at the shell before the save: this test types itself.
        string path = LinuxRiscvBootTests.Definition("linux-riscv64-saved", "", "uart16550({ address: 0x10000000, irq: 10 })",
            "console=ttyS0 earlycon=sbi panic=-1 rdinit=/init");
        using var definition = TestDefinitions.Loader().Load(path);
        byte[] saved;
        using (var first = SavedStateRig.Boot(definition, TimeSpan.FromMinutes(10)))
        {
            first.WaitFor(text => text.Contains("~ # "), "the shell's prompt");
            saved = first.PauseAndSave();
        }

        var state = SavedState.Read(new MemoryStream(saved));
        Assert.Equal("emulated", state.Model);
        // RAM, the hart, then the board's devices in the order they were mapped: CLINT, PLIC, test finisher, UART.
        Assert.Equal(["memory", "cpu", "mmio 0x2000000", "mmio 0xc000000", "mmio 0x100000", "mmio 0x10000000"], state.SectionNames);
        using var second = SavedStateRig.Restore(definition, state, TimeSpan.FromMinutes(2));
        second.Console.SendInput("uname -a\n");
        string after = second.WaitFor(text => text.Contains("GNU/Linux"), "uname's answer");
        Assert.DoesNotContain("OpenSBI", after);
        Assert.Matches(@"Linux \S+ 6\.1\.\d+\S* .* riscv64 GNU/Linux", after);
    }

    /// <summary>The same through the lifecycle, as a host process does it: a checkpoint of the running machine, then a restore and a start.</summary>
    [LinuxRiscvBootTests.RiscvLinuxFact]
    public void A_running_riscv64_machine_checkpointed_and_restored_starts_at_its_shell()
    {
        string home = Directory.CreateTempSubdirectory("virtshell-riscv-checkpoint-").FullName;
        var host = TestDefinitions.Host(new MachineStore(home));
        var vm = host.Create(LinuxRiscvBootTests.Definition("linux-riscv64-checkpoint", "", "uart16550({ address: 0x10000000, irq: 10 })",
            "console=ttyS0 earlycon=sbi panic=-1 rdinit=/init"));
        try
        {
            vm.Start();
            WaitFor(vm, "~ # ", 0);
            vm.Checkpoint("shell");
            vm.Stop(turnOff: true, TimeSpan.FromSeconds(10));
            vm.RestoreCheckpoint("shell");
            Assert.Equal(MachineState.Saved, vm.State);
            vm.Start();
            long from = vm.Console!.Position;
            vm.Console!.SendInput("uname -a\n");
            string after = WaitFor(vm, "GNU/Linux", from);
            Assert.DoesNotContain("OpenSBI", after);
            Assert.Matches(@"Linux \S+ 6\.1\.\d+\S* .* riscv64 GNU/Linux", after);
        }
        finally
        {
            if (MachineStates.IsLive(vm.State)) vm.Stop(turnOff: true, TimeSpan.FromSeconds(10));
            Directory.Delete(home, recursive: true);
        }
    }

    /// <summary>What the run's console has from <paramref name="from"/> on (the log file lags behind its buffer).</summary>
    private static string ConsoleText(Machine vm, long from)
    {
        long offset = from;
        return System.Text.Encoding.ASCII.GetString(vm.Console!.ReadFrom(ref offset));
    }

    /// <summary>The console from <paramref name="from"/> on, once it contains <paramref name="expected"/>.</summary>
    private static string WaitFor(Machine vm, string expected, long from)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
        while (DateTime.UtcNow < deadline)
        {
            string text = ConsoleText(vm, from);
            if (text.Contains(expected)) return text;
            Assert.True(MachineStates.IsLive(vm.State), $"the machine ended ({vm.LastExit}) before '{expected}': {text}");
            Thread.Sleep(50);
        }
        throw new TimeoutException($"no '{expected}' on the console: {ConsoleText(vm, from)}");
    }

    [Fact]
    public void A_restored_plic_keeps_its_sources_and_drives_the_hart_input_again()
    {
        var driven = new List<(int Context, bool Level)>();
        var plic = new Plic(0, (context, level) => driven.Add((context, level)));
        plic.WriteMmio(4 * 7, 4, 3);                 // source 7: priority 3
        plic.WriteMmio(0x2080, 4, 1u << 7);           // enabled for context 1 (S-mode)
        plic.WriteMmio(0x201000, 4, 1);               // context 1's threshold 1
        plic.Connect(7).Set(true);
        Assert.Equal((1, true), driven[^1]);
        var writer = new StateWriter();
        plic.SaveState(writer);

        var restoredDriven = new List<(int Context, bool Level)>();
        var restored = new Plic(0, (context, level) => restoredDriven.Add((context, level)));
        var reader = new StateReader("mmio 0xc000000", writer.Written.ToArray());
        restored.RestoreState(reader);
        reader.End();
        Assert.Equal([(0, false), (1, true)], restoredDriven);
        Assert.Equal(1u << 7, restored.ReadMmio(0x1000, 4));   // pending
        Assert.Equal(7UL, restored.ReadMmio(0x201004, 4));       // claimed by context 1
        Assert.Equal(3UL, restored.ReadMmio(4 * 7, 4));
    }

    [Fact]
    public void A_plic_state_with_an_impossible_priority_is_refused()
    {
        var writer = new StateWriter();
        new Plic(0, (_, _) => { }).SaveState(writer);
        byte[] bytes = writer.Written.ToArray();
        bytes[0] = 9;
        var e = Assert.Throws<StateFormatException>(() => new Plic(0, (_, _) => { }).RestoreState(new StateReader("mmio 0xc000000", bytes)));
        Assert.Contains("source 1", e.Message);
    }
}
