using System.Text;

namespace VirtShell.Engine.Store;

/// <summary>Writes that either happen whole or not at all: temp file, fsync, rename over the target.</summary>
public static class AtomicFile
{
    /// <paramref name="text"/> as UTF-8, through <see cref="WriteAllBytes"/>.
    public static void WriteAllText(string path, string text, bool durable = true) => WriteAllBytes(path, Encoding.UTF8.GetBytes(text), durable);

    /// <summary>
    /// Without <paramref name="durable"/> the fsync is left out: readers still see the old file or the new one
    /// whole (the rename is atomic), but a power cut may lose the write. On ext4 (auto_da_alloc, the default) and
    /// btrfs a rename over an existing file puts the new data on disk before the rename, so what survives is the
    /// old file or the new one; on filesystems without that ordering (XFS) the file may come back empty.
    /// </summary>
    public static void WriteAllBytes(string path, byte[] bytes, bool durable = true)
    {
        string temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: durable);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
