namespace VirtShell.Devices.Display;

/// <summary>
/// Turns an 80x25 text screen into console lines, for firmware that prints through the BIOS teletype (INT 10h) with
/// no one to look at the screen. It looks at the screen each time the cursor is set, as a teletype does after every
/// character, and emits a row (trailing blanks trimmed) when it is finished:
/// <list type="bullet">
/// <item>the cursor moved down (a line feed, or several printed at once, as Linux's decompressor does before it sets
/// the cursor): the row it left and those it passed, blank or not;</item>
/// <item>the cursor jumped elsewhere: the row it left, unless blank (a cleared screen emits nothing);</item>
/// <item>the cursor stayed on its row but the screen moved up one row since the last look, with the cursor's row
/// now blank (a line feed on the last row, which scrolls): the row that moved up from under the cursor.</item>
/// </list>
/// A row is not emitted again with the text it was emitted with at that position (scrolls move what was emitted
/// along), so a screen saved and written back, as Linux's setup code does around its mode set, is not repeated; the
/// price is that the same text printed again at the same row of a cleared screen is not shown again.
/// So each line a teletype prints is emitted once, and a scroll never emits the rows it moves. Text written without
/// moving the cursor is only seen at the next cursor move; a line feed on a screen that is blank throughout (nothing
/// changes) is not seen at all.
/// </summary>
public sealed class TextLineCapture(Action<string> emit)
{
    public const int Columns = 80, Rows = 25;

    private string[] _previous = [.. Enumerable.Repeat("", Rows)];
    /// <summary>What was emitted from each row position, moved along when the screen scrolls.</summary>
    private readonly string?[] _emitted = new string?[Rows];
    private int _cursorRow;

    /// <summary>
    /// The cursor is now at <paramref name="cursor"/> (cells from the screen's start) and <paramref name="cells"/>
    /// holds the screen: <see cref="Columns"/> x <see cref="Rows"/> character/attribute byte pairs.
    /// </summary>
    public void CursorMoved(int cursor, ReadOnlySpan<byte> cells)
    {
        var rows = new string[Rows];
        for (int r = 0; r < Rows; r++) rows[r] = RowText(cells.Slice(r * Columns * 2, Columns * 2));
        int row = Math.Clamp(cursor / Columns, 0, Rows - 1);
        if (row > _cursorRow) { for (int r = _cursorRow; r < row; r++) Emit(r, rows[r]); }
        else if (row != _cursorRow) { if (rows[_cursorRow].Length > 0) Emit(_cursorRow, rows[_cursorRow]); }
        else if (row > 0 && rows[row].Length == 0 && ScrolledUpOne(_previous, rows))
        {
            Array.Copy(_emitted, 1, _emitted, 0, Rows - 1);
            _emitted[Rows - 1] = null;
            Emit(row - 1, rows[row - 1]);
        }
        _previous = rows;
        _cursorRow = row;
    }

    private void Emit(int row, string text)
    {
        if (_emitted[row] == text) return;
        _emitted[row] = text;
        emit(text);
    }

    private static bool ScrolledUpOne(string[] before, string[] after)
    {
        if (before.AsSpan().SequenceEqual(after)) return false;
        for (int r = 0; r < Rows - 1; r++)
            if (after[r] != before[r + 1]) return false;
        return true;
    }

    private static string RowText(ReadOnlySpan<byte> row)
    {
        var text = new char[Columns];
        for (int c = 0; c < Columns; c++)
        {
            byte ch = row[c * 2];
            text[c] = ch == 0 ? ' ' : ch is >= 0x20 and < 0x7F ? (char)ch : '.';
        }
        return new string(text).TrimEnd(' ');
    }
}
