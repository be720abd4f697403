using VirtShell.Conformance;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Scripting;

namespace VirtShell.Tests.Models;

/// <summary>A fact that is skipped, with the reason, when the kvm-unit-tests binaries are not on this machine.</summary>
public sealed class KvmUnitTestsDataFactAttribute : FactAttribute
{
    public KvmUnitTestsDataFactAttribute()
    {
        if (KvmUnitTests.FindDataDirectory() == null)
            Skip = "kvm-unit-tests data not found (set VIRTSHELL_KVM_UNIT_TESTS_DIR or provide shared/testdata/kvm-unit-tests/i386)";
    }
}

/// <summary>machine-defs/kvm-unit-test.js and its helper in lib/: a kvm-unit-tests binary as a user's definition runs it.</summary>
public class KvmUnitTestDefinitionTests
{
    [KvmUnitTestsDataFact]
    public void The_example_definition_runs_vmexit_cpuid_to_a_passing_debug_exit()
    {
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        var host = TestDefinitions.Host(store);
        var vm = host.Create(RepoPaths.MachineDef("kvm-unit-test.js"), "kut-test");
        vm.Start();
        Assert.True(vm.WaitFor([MachineState.Stopped, MachineState.Crashed], TimeSpan.FromMinutes(2)),
            $"still {vm.State}; the guest printed: {File.ReadAllText(vm.ConsoleLogPath)}");
        Assert.Equal(ExitReason.DebugExit, vm.LastExit!.Reason);
        Assert.Equal(1, vm.LastExit.Status);
        Assert.Contains("cpuid ", File.ReadAllText(vm.ConsoleLogPath));   // vmexit's timing line for the test it was asked for
        Assert.Contains("vmexit: passed", File.ReadAllText(Path.Combine(vm.Directory, MachineStore.LogFile)));
    }

    [KvmUnitTestsDataFact]
    public void The_helper_gives_emulator_pc_testdev_and_its_mmio_ram_through_a_script_device()
    {
        // emulator runs instructions against the 64 KiB at 0xff000000 (the helper's MMIO script device) and string
        // I/O against pc-testdev's scratch port; without either it reports failures.
        var folder = Directory.CreateTempSubdirectory("virtshell-kut-emulator-").FullName;
        Directory.CreateDirectory(Path.Combine(folder, "lib"));
        foreach (var file in new[] { "kvm-unit-test.js", "kvm-unit-test.environ" })
            File.Copy(RepoPaths.MachineDef(Path.Combine("lib", file)), Path.Combine(folder, "lib", file));
        string image = System.Text.Json.JsonSerializer.Serialize(Path.Combine(KvmUnitTests.FindDataDirectory()!, "emulator.flat"));
        File.WriteAllText(Path.Combine(folder, "emulator.js"),
            "import { machine } from 'virtshell';\n" +
            "import { kvmUnitTest } from './lib/kvm-unit-test.js';\n" +
            $"export default machine(kvmUnitTest({{ image: {image}, environ: './lib/kvm-unit-test.environ' }}));\n");
        var store = new MachineStore(Directory.CreateTempSubdirectory().FullName);
        var host = TestDefinitions.Host(store);
        var vm = host.Create(Path.Combine(folder, "emulator.js"), "kut-emulator");
        vm.Start();
        Assert.True(vm.WaitFor([MachineState.Stopped, MachineState.Crashed], TimeSpan.FromMinutes(2)),
            $"still {vm.State}; the guest printed: {File.ReadAllText(vm.ConsoleLogPath)}");
        string output = File.ReadAllText(vm.ConsoleLogPath);
        Assert.True(vm.LastExit!.Reason == ExitReason.DebugExit && vm.LastExit.Status == 1, $"{vm.LastExit}: {output}");
        Assert.Contains("PASS: string_io_mmio", output);
    }
}
