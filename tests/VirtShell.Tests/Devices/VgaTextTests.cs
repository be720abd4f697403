using VirtShell.Devices;
using VirtShell.Devices.Display;
using VirtShell.Engine.Definitions;

namespace VirtShell.Tests.Devices;

/// <summary>The VGA registers a BIOS programs, and the text screen turned into console lines as a teletype prints.</summary>
public sealed class VgaTextTests
{
    private readonly List<string> _lines = [];
    private readonly byte[] _screen = new byte[TextLineCapture.Columns * TextLineCapture.Rows * 2];
    private readonly TextLineCapture _capture;
    private int _row, _column;

    public VgaTextTests() => _capture = new TextLineCapture(_lines.Add);

    /// <summary>
    /// Prints as the VGA BIOS's teletype does: the character, then the cursor (unless <paramref name="moveCursor"/> is
    /// false, as for a writer that sets it once at the end); a line feed on the last row scrolls.
    /// </summary>
    private void Teletype(string text, bool moveCursor = true)
    {
        foreach (char c in text)
        {
            if (c == '\r') _column = 0;
            else if (c == '\n') _row++;
            else
            {
                _screen[(_row * TextLineCapture.Columns + _column) * 2] = (byte)c;
                if (++_column == TextLineCapture.Columns) { _column = 0; _row++; }
            }
            if (_row == TextLineCapture.Rows)
            {
                int rowBytes = TextLineCapture.Columns * 2;
                Array.Copy(_screen, rowBytes, _screen, 0, _screen.Length - rowBytes);
                Array.Clear(_screen, _screen.Length - rowBytes, rowBytes);
                _row--;
            }
            if (moveCursor) _capture.CursorMoved(_row * TextLineCapture.Columns + _column, _screen);
        }
    }

    [Fact]
    public void A_row_is_emitted_once_the_cursor_moves_to_the_next()
    {
        Teletype("Hello   ");
        Assert.Empty(_lines);
        Teletype("\r\nW");
        Assert.Equal(["Hello"], _lines);
    }

    [Fact]
    public void Scrolling_emits_each_line_once_and_never_the_rows_it_moves()
    {
        var printed = Enumerable.Range(1, 40).Select(i => i % 7 == 0 ? "" : $"line {i}").ToList();
        foreach (var line in printed) Teletype(line + "\r\n");
        Assert.Equal(printed, _lines);
    }

    [Fact]
    public void Rows_printed_before_one_cursor_move_are_each_emitted()
    {
        Teletype("one\r\n\r\nthree\r\n", moveCursor: false);
        Teletype("x");
        Assert.Equal(["one", "", "three"], _lines);
    }

    [Fact]
    public void A_screen_written_back_after_a_clear_is_not_emitted_again()
    {
        Teletype("banner\r\nsecond\r\n");
        var saved = (byte[])_screen.Clone();
        Array.Clear(_screen);                               // a mode set clears the screen and homes the cursor
        _row = _column = 0;
        _capture.CursorMoved(0, _screen);
        saved.CopyTo(_screen, 0);                           // and the saved screen is written back under the cursor
        _row = 2;
        _capture.CursorMoved(2 * TextLineCapture.Columns, _screen);
        Teletype("third\r\n");
        Assert.Equal(["banner", "second", "third"], _lines);
    }

    [Fact]
    public void A_full_row_wraps_and_is_emitted_whole()
    {
        Teletype(new string('x', TextLineCapture.Columns) + "y\r\n");
        Assert.Equal([new string('x', TextLineCapture.Columns), "y"], _lines);
    }

    [Fact]
    public void Registers_read_back_and_report_the_cursor_when_its_low_byte_is_set()
    {
        var moves = new List<(int Cursor, int Start)>();
        var vga = new VgaRegisters((cursor, start) => moves.Add((cursor, start)));
        vga.WritePort(0x3D4, 2, 0x0C | (0x01 << 8));       // display start: 0x0100 cells
        vga.WritePort(0x3D4, 2, 0x0D | (0x00 << 8));
        vga.WritePort(0x3D4, 2, 0x0E | (0x01 << 8));
        Assert.Empty(moves);
        vga.WritePort(0x3D4, 2, 0x0F | (0x55 << 8));
        Assert.Equal([(0x155, 0x100)], moves);
        vga.WritePort(0x3C4, 1, 0x02);
        vga.WritePort(0x3C5, 1, 0x03);
        Assert.Equal(0x03u, vga.ReadPort(0x3C5, 1));
        vga.ReadPort(0x3DA, 1);                            // resets the attribute flip-flop: index next
        vga.WritePort(0x3C0, 1, 0x10);
        vga.WritePort(0x3C0, 1, 0x0C);
        Assert.Equal(0x0Cu, vga.ReadPort(0x3C1, 1));
        Assert.NotEqual(vga.ReadPort(0x3DA, 1) & 0x08, vga.ReadPort(0x3DA, 1) & 0x08);
    }

    [Fact]
    public void A_rom_that_is_not_an_option_rom_is_rejected_naming_the_setting()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(file, new byte[512]);
            var spec = new DeviceSpec { Type = "vgaText", Source = new("/defs/vga.js", 3, 5), Settings = new Dictionary<string, object?> { ["rom"] = file } };
            var e = Assert.Throws<DefinitionException>(() => new VgaTextDeviceType().Validate(spec));
            Assert.Equal($"vgaText at /defs/vga.js:3:5: 'rom' {file} is not an option ROM (it does not start with 55 AA)", e.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
