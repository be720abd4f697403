using System.Text;
using VirtShell.Engine.Console;

namespace VirtShell.Tests.Engine;

public class ConsoleChannelTests
{
    private static void Write(ConsoleChannel c, string s) { foreach (var b in Encoding.ASCII.GetBytes(s)) c.WriteFromGuest(b); }

    [Fact]
    public void Bytes_each_way_are_counted_for_this_run_only()
    {
        string log = Path.Combine(Directory.CreateTempSubdirectory().FullName, "console.log");
        File.WriteAllText(log, "an earlier run\n");
        using var console = new ConsoleChannel(log);
        Write(console, "hello\r\n");
        console.WriteFromGuest("bulk"u8);
        console.SendInput("ls\r");
        Assert.Equal(11, console.BytesFromGuest);
        Assert.Equal(3, console.BytesToGuest);
        console.TryReadInput(out _);
        Assert.Equal(3, console.BytesToGuest); // what the guest has read still counts
    }

    [Fact]
    public void Every_byte_reaches_console_log_and_readers_by_offset()
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        string log = Path.Combine(dir, "console.log");
        using (var console = new ConsoleChannel(log))
        {
            var lines = new List<string>();
            console.LineReceived += lines.Add;
            Write(console, "hello\r\nwor");
            long offset = 0;
            Assert.Equal("hello\r\nwor", Encoding.ASCII.GetString(console.ReadFrom(ref offset)));
            Write(console, "ld\n");
            Assert.Equal("ld\n", Encoding.ASCII.GetString(console.ReadFrom(ref offset)));
            Assert.Equal(["hello", "world"], lines);
        }
        Assert.Equal("hello\r\nworld\n", File.ReadAllText(log));
        // A second run appends, and offsets go on from where the log ended.
        using var again = new ConsoleChannel(log);
        Assert.Equal(13, again.Position);
        long fromStart = 0;
        Assert.Empty(again.ReadFrom(ref fromStart)); // the first run's bytes are on disk, not in this window
        Assert.Equal(13, fromStart);
    }

    [Fact]
    public void A_slow_reader_skips_what_fell_out_of_the_window()
    {
        using var console = new ConsoleChannel(null, capacity: 8);
        Write(console, "0123456789");
        long offset = 0;
        Assert.Equal("23456789", Encoding.ASCII.GetString(console.ReadFrom(ref offset)));
        Assert.Equal(10, offset);
    }

    [Fact]
    public async Task Waiting_for_output_wakes_on_a_write_and_times_out_without_one()
    {
        using var console = new ConsoleChannel(null);
        Assert.False(console.WaitForOutput(0, TimeSpan.FromMilliseconds(50)));
        var writer = Task.Run(() => { Thread.Sleep(50); Write(console, "x"); });
        Assert.True(console.WaitForOutput(0, TimeSpan.FromSeconds(10)));
        await writer;
    }

    [Fact]
    public void Input_is_queued_in_order_and_announced()
    {
        using var console = new ConsoleChannel(null);
        int announced = 0;
        console.InputAvailable += () => announced++;
        console.SendInput("ab");
        Assert.Equal(1, announced);
        Assert.True(console.TryReadInput(out var a));
        Assert.True(console.TryReadInput(out var b));
        Assert.False(console.TryReadInput(out _));
        Assert.Equal(((byte)'a', (byte)'b'), (a, b));
    }
}
