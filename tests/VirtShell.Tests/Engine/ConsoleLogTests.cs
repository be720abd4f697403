using System.Diagnostics;
using VirtShell.Engine.Console;

namespace VirtShell.Tests.Engine;

public class ConsoleLogTests
{
    private static readonly ConsoleLimits Unlimited = ConsoleLimits.Default with { Rate = 0 };

    private static string NewLogPath() => Path.Combine(Directory.CreateTempSubdirectory().FullName, "console.log");

    private static byte[] Numbered(int count) => Enumerable.Range(0, count).Select(i => (byte)(i * 7 % 251)).ToArray();

    private static byte[] ReadAll(string path, ref long offset)
    {
        var all = new List<byte>();
        var buffer = new byte[1000];
        for (int n; (n = ConsoleLog.Read(path, ref offset, buffer)) > 0;) all.AddRange(buffer.AsSpan(0, n));
        return [.. all];
    }

    [Fact]
    public void Rotation_at_the_limit_keeps_the_newest_files_and_absolute_offsets()
    {
        string log = NewLogPath();
        var limits = Unlimited with { MaxSize = 4096, MaxFiles = 3 };
        var data = Numbered(20_000); // 4 full files and 3616 bytes: the oldest two files are gone
        using (var console = new ConsoleChannel(log, limits: limits))
        {
            for (int i = 0; i < data.Length; i += 1000) console.WriteFromGuest(data.AsSpan(i, Math.Min(1000, data.Length - i)));
            console.Flush();
            Assert.Equal(data.Length, console.Position);
        }
        Assert.Equal(3616, new FileInfo(log).Length);
        Assert.Equal(4096, new FileInfo(log + ".1").Length);
        Assert.Equal(4096, new FileInfo(log + ".2").Length);
        Assert.False(File.Exists(log + ".3"));

        long offset = 0; // older than anything kept: moves to the oldest byte on disk
        Assert.Equal(data[8192..], ReadAll(log, ref offset));
        Assert.Equal(data.Length, offset);
        offset = 10_000; // inside console.log.2
        Assert.Equal(data[10_000..], ReadAll(log, ref offset));

        // The next run continues the offsets where this one stopped.
        using var next = new ConsoleChannel(log, limits: limits);
        Assert.Equal(data.Length, next.Position);
        next.WriteFromGuest("more\n"u8);
        offset = data.Length;
        Assert.Equal("more\n"u8.ToArray(), ReadAll(log, ref offset));
    }

    [Fact]
    public void One_file_is_started_afresh_when_full_and_offsets_go_on()
    {
        string log = NewLogPath();
        using var console = new ConsoleChannel(log, limits: Unlimited with { MaxSize = 4096, MaxFiles = 1 });
        var data = Numbered(5000);
        console.WriteFromGuest(data); // one write across the limit: split, the first 4096 bytes rotated away
        console.Flush();
        Assert.False(File.Exists(log + ".1"));
        long offset = 0;
        Assert.Equal(data[4096..], ReadAll(log, ref offset));
        long fromWindow = 0;
        Assert.Equal(data, console.ReadFrom(ref fromWindow)); // the in-memory window still has the rotated bytes
    }

    [Fact]
    public void Output_past_the_rate_limit_is_dropped_and_counted()
    {
        string log = NewLogPath();
        var clock = new ManualClock();
        using var console = new ConsoleChannel(log, limits: ConsoleLimits.Default with { Rate = 1000, Burst = 2000 }, time: clock);
        var data = Numbered(5000);
        console.WriteFromGuest(data);
        Assert.Equal(2000, console.BytesFromGuest); // the burst
        Assert.Equal(3000, console.BytesDropped);

        clock.Advance(TimeSpan.FromSeconds(0.5));
        for (int i = 0; i < 1000; i++) console.WriteFromGuest(data[i]); // a UART: a byte at a time
        Assert.Equal(2500, console.BytesFromGuest);
        Assert.Equal(3500, console.BytesDropped);

        clock.Advance(TimeSpan.FromHours(1)); // a quiet spell refills the bucket up to the burst, no more
        console.WriteFromGuest(data);
        Assert.Equal(4500, console.BytesFromGuest);
        Assert.Equal(6500, console.BytesDropped);
        console.Flush();
        Assert.Equal(4500, new FileInfo(log).Length);
        Assert.Equal(data[..2000], File.ReadAllBytes(log)[..2000]);
    }

    [Fact]
    public void A_3_GiB_log_streams_through_a_small_buffer()
    {
        string log = NewLogPath();
        const long Huge = 3L << 30;
        // Sparse files: quick to make, and read back as zeros. The older file holds 3 GiB, console.log a last line.
        using (var old = new FileStream(log + ".1", FileMode.CreateNew)) old.SetLength(Huge);
        File.WriteAllText(log, "the end\n");
        File.WriteAllText(log + ".offset", Huge.ToString());

        using var self = Process.GetCurrentProcess();
        long peakBefore = self.PeakWorkingSet64;
        var buffer = new byte[1 << 20];
        long offset = 0, total = 0;
        int last = 0;
        for (int n; (n = ConsoleLog.Read(log, ref offset, buffer)) > 0; last = n) total += n;
        self.Refresh();

        Assert.Equal(Huge + 8, total);
        Assert.Equal(Huge + 8, offset);
        Assert.Equal("the end\n"u8.ToArray(), buffer[(last - 8)..last]);
        Assert.True(self.PeakWorkingSet64 - peakBefore < 256L << 20,
            $"peak working set grew by {(self.PeakWorkingSet64 - peakBefore) >> 20} MiB reading the log");
    }

    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
        public override long GetTimestamp() => _ticks;
        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
