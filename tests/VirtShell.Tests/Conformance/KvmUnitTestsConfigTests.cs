using VirtShell.Conformance;

namespace VirtShell.Tests.Conformance;

public class KvmUnitTestsConfigTests
{
    [Fact]
    public void Unittests_cfg_entries_give_arguments_and_say_why_a_single_cpu_emulated_pc_cannot_run_them()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        foreach (var f in new[] { "vmexit.flat", "pmu.flat", "smptest.flat", "hyperv_stimer.flat", "asyncpf.flat" })
            File.WriteAllBytes(Path.Combine(dir, f), []);
        File.WriteAllText(Path.Combine(dir, "unittests.cfg"), """
            # comment
            [vmexit_cpuid]
            file = vmexit.flat
            test_args = 'cpuid'
            groups = vmexit

            [sieve]
            file = sieve.flat
            timeout = 180

            [x2apic]
            file = vmexit.flat
            arch = x86_64

            [pmu]
            file = pmu.flat
            accel = kvm

            [smptest3]
            file = smptest.flat
            smp = 3

            [hyperv_stimer]
            file = hyperv_stimer.flat
            groups = hyperv

            [asyncpf]
            file = asyncpf.flat
            qemu_params = -cpu host -m 2048
            """);

        var tests = KvmUnitTests.ReadConfig(dir).ToDictionary(t => t.Name);

        Assert.Equal(["vmexit_cpuid", "pmu", "smptest3", "hyperv_stimer", "asyncpf"], tests.Keys); // sieve.flat absent, x2apic 64-bit only
        Assert.Equal("cpuid", tests["vmexit_cpuid"].Arguments);
        Assert.Null(tests["vmexit_cpuid"].OutOfScope);
        Assert.Equal("vmexit.flat cpuid", KvmUnitTests.MachineFor(dir, tests["vmexit_cpuid"], "/tmp/environ").Boot!.CommandLine);
        Assert.Equal("accel = kvm", tests["pmu"].OutOfScope);
        Assert.Equal("smp = 3", tests["smptest3"].OutOfScope);
        Assert.Contains("Hyper-V", tests["hyperv_stimer"].OutOfScope);
        Assert.Contains("-cpu host", tests["asyncpf"].OutOfScope);
    }
}
