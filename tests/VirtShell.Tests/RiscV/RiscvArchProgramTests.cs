using VirtShell.Conformance;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.RiscV;

/// <summary>The RISC-V conformance programs of tests/riscv-arch, each booted on the riscv64 virt board: every case passes.</summary>
public sealed class RiscvArchProgramTests
{
    public static TheoryData<string> Programs => new(Directory.GetFiles(Path.Combine(RepoPaths.Root, "tests/riscv-arch"), "*.s")
        .Select(Path.GetFileNameWithoutExtension).Order()!);

    /// <summary>Skips when the programs have not been assembled (no gcc-riscv64-linux-gnu when the build ran).</summary>
    public sealed class RiscvProgramsTheoryAttribute : TheoryAttribute
    {
        public RiscvProgramsTheoryAttribute()
        {
            if (!Directory.Exists(Path.Combine(RepoPaths.Root, "out/riscv-tests")))
                Skip = "out/riscv-tests is missing: build.ps1 -Task Build assembles it (scripts/build-riscv-tests.ps1, needs gcc-riscv64-linux-gnu)";
        }
    }

    [RiscvProgramsTheory]
    [MemberData(nameof(Programs))]
    public void Every_case_passes(string program)
    {
        string image = Path.Combine(RepoPaths.Root, "out/riscv-tests", program + ".bin");
        var result = RiscvArchTests.Run(image, TimeSpan.FromSeconds(60));
        Assert.True(result.Finished, $"{program} did not finish:\n{result.Console}");
        Assert.True(result.Failed.Count == 0, $"{program}: {string.Join("; ", result.Failed)}");
        Assert.True(result.Passed.Count > 10, $"{program} ran only {result.Passed.Count} cases");
    }
}
