using System.Text;
using VirtShell.Engine.Console;
using Xunit;

namespace VirtShell.Tests.Virtio;

/// <summary>
/// virtio-console hands the console whole transfers at once; the console must treat them exactly as the same bytes
/// written one at a time: the same console.log, the same window for readers, the same lines.
/// </summary>
public sealed class ConsoleBulkWriteTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("virtshell-console-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed record Seen(string Log, byte[] Window, long Offset, List<string> Lines);

    private Seen Run(string name, int capacity, Action<ConsoleChannel> write)
    {
        string log = Path.Combine(_dir, name);
        var lines = new List<string>();
        byte[] window;
        long offset = 0;
        using (var console = new ConsoleChannel(log, capacity))
        {
            console.LineReceived += lines.Add;
            write(console);
            window = console.ReadFrom(ref offset);
        }
        return new Seen(File.ReadAllText(log, Encoding.Latin1), window, offset, lines);
    }

    [Theory]
    [InlineData(16, new[] { 3, 5, 40, 1, 7 })]       // writes that wrap the window, and one longer than it
    [InlineData(1 << 20, new[] { 100, 2000, 1 })]
    public void BulkWrites_LeaveWhatByteWritesLeave(int capacity, int[] sizes)
    {
        var random = new Random(sizes.Length * 7919 + capacity);
        var data = new byte[sizes.Sum()];
        random.NextBytes(data);
        // Plenty of line ends, some after a CR, and a very long line cut at 64 KiB in both.
        for (int i = 0; i < data.Length; i += random.Next(1, 30)) data[i] = (byte)'\n';

        var byBytes = Run("bytes.log", capacity, c => { foreach (var b in data) c.WriteFromGuest(b); });
        var bySpans = Run("spans.log", capacity, c =>
        {
            int at = 0;
            foreach (var n in sizes) { c.WriteFromGuest(data.AsSpan(at, n)); at += n; }
        });

        Assert.Equal(Encoding.Latin1.GetString(data), bySpans.Log);
        Assert.Equal(byBytes.Log, bySpans.Log);
        Assert.Equal(byBytes.Window, bySpans.Window);
        Assert.Equal(data[^Math.Min(capacity, data.Length)..], bySpans.Window);
        Assert.Equal(data.Length, bySpans.Offset);
        Assert.Equal(byBytes.Lines, bySpans.Lines);
        Assert.Equal(data.Count(b => b == '\n'), bySpans.Lines.Count);
    }

    [Fact]
    public void ALineIsInConsoleLog_AndAnnounced_WhenTheWriteThatEndsItReturns()
    {
        string log = Path.Combine(_dir, "console.log");
        using var console = new ConsoleChannel(log);
        var lines = new List<string>();
        console.LineReceived += line => lines.Add(line + " | log: " + File.ReadAllText(log).Replace("\r\n", "\\r\\n").Replace("\n", "\\n"));
        console.WriteFromGuest("one\r\ntwo\nthr"u8);
        Assert.Equal(["one | log: one\\r\\ntwo\\nthr", "two | log: one\\r\\ntwo\\nthr"], lines);
        console.WriteFromGuest("ee\n"u8);
        Assert.Equal("three | log: one\\r\\ntwo\\nthree\\n", lines[^1]);
    }

    [Fact]
    public void Lines_WrittenWhileNobodyListens_AreNotLost_ForAListenerThatComesMidLine()
    {
        using var console = new ConsoleChannel(null);
        console.WriteFromGuest("unheard\nhalf "u8);
        var lines = new List<string>();
        console.LineReceived += lines.Add;
        console.WriteFromGuest("a line\n"u8);
        Assert.Equal(["half a line"], lines);
        long offset = 0;
        Assert.Equal("unheard\nhalf a line\n", Encoding.ASCII.GetString(console.ReadFrom(ref offset)));
    }

    [Fact]
    public void ALineLongerThan64KiB_IsCutThere()
    {
        using var console = new ConsoleChannel(null);
        var lines = new List<string>();
        console.LineReceived += lines.Add;
        var data = Enumerable.Repeat((byte)'x', 100_000).Append((byte)'\n').ToArray();
        console.WriteFromGuest(data);
        Assert.Equal(64 * 1024, Assert.Single(lines).Length);
    }
}
