using System.Buffers.Binary;
using VirtShell.Engine.State;

namespace VirtShell.Engine.Migration;

/// <summary>
/// The pre-copy pieces a destination host received while the source ran, kept in a file beside the saved state they
/// complete (docs/state-format.md, "The migration stream"): each piece with its length before it (int32, little
/// endian), in the order they came. A start applies them to the fresh machine's RAM, then the memory-less state.
/// </summary>
public static class PreCopyStream
{
    /// <summary>The file's name, in the folder of the saved state it goes with.</summary>
    public const string FileName = "memory.vsmig";

    /// <summary>The stream that goes with the saved state <paramref name="statePath"/>.</summary>
    public static string Beside(string statePath) => Path.Combine(Path.GetDirectoryName(statePath)!, FileName);

    /// <summary>A piece framed for the file: its length, then its bytes.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> piece)
    {
        var framed = new byte[4 + piece.Length];
        BinaryPrimitives.WriteInt32LittleEndian(framed, piece.Length);
        piece.CopyTo(framed.AsSpan(4));
        return framed;
    }

    /// <summary>Applies every piece of the file at <paramref name="path"/> to <paramref name="receiver"/>, in order.</summary>
    /// <exception cref="StateFormatException">The file is cut short or a piece is damaged; the message names the file.</exception>
    public static void Apply(string path, PreCopyReceiver receiver)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var length = new byte[4];
        while (true)
        {
            int read = file.ReadAtLeast(length, 4, throwOnEndOfStream: false);
            if (read == 0) return;
            int size = BinaryPrimitives.ReadInt32LittleEndian(length);
            if (read < 4 || size < 0 || size > file.Length - file.Position)
                throw new StateFormatException($"{path}: the migration stream is cut short after {receiver.Pieces} pieces");
            var piece = new byte[size];
            file.ReadExactly(piece);
            try { receiver.Apply(piece); }
            catch (StateFormatException e) { throw new StateFormatException($"{path}: piece {receiver.Pieces + 1}: {e.Message}"); }
        }
    }
}
