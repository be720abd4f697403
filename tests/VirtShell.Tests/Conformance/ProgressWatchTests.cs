using VirtShell.Conformance;

namespace VirtShell.Tests.Conformance;

/// <summary>
/// The conformance runner's stall detection: CPU time without progress, so a loaded host does not stop a slow run;
/// the wall clock for a guest that waits without the CPU; any progress counter (POST codes, console output, blocks
/// compiled) starts both again.
/// </summary>
public sealed class ProgressWatchTests
{
    private TimeSpan _cpu, _wall;

    private ProgressWatch Watch() => new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(60), () => _cpu, () => _wall);

    [Fact]
    public void A_run_that_only_compiles_blocks_is_not_stalled()
    {
        var watch = Watch();
        // test386's POST 0Eh at compileThreshold 1: 20 CPU seconds without a POST code, a block compiled every few ms.
        for (int blocks = 1; blocks <= 200; blocks++)
        {
            _cpu += TimeSpan.FromMilliseconds(100);
            _wall += TimeSpan.FromMilliseconds(100);
            Assert.False(watch.Stalled((5, 120, blocks)), $"stalled after {_cpu.TotalSeconds} CPU seconds");
        }
    }

    [Fact]
    public void A_slowed_run_is_stalled_by_CPU_time_not_by_wall_clock()
    {
        var watch = Watch();
        Assert.False(watch.Stalled((1, 0, 0)));
        // A loaded host: 50 s of wall clock give the run 5 s of CPU time.
        _wall += TimeSpan.FromSeconds(50);
        _cpu += TimeSpan.FromSeconds(5);
        Assert.False(watch.Stalled((1, 0, 0)));
        // Spinning in test386's error routine uses the CPU.
        _wall += TimeSpan.FromSeconds(6);
        _cpu += TimeSpan.FromSeconds(6);
        Assert.True(watch.Stalled((1, 0, 0)));
    }

    [Fact]
    public void A_halted_run_is_stalled_by_the_wall_clock()
    {
        var watch = Watch();
        Assert.False(watch.Stalled((1, 0, 0)));
        _wall += TimeSpan.FromSeconds(59);
        Assert.False(watch.Stalled((1, 0, 0)));
        _wall += TimeSpan.FromSeconds(2);
        Assert.True(watch.Stalled((1, 0, 0)));
    }
}
