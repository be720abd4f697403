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
}
