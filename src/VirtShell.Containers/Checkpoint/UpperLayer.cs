using VirtShell.Containers.Native;

namespace VirtShell.Containers.Checkpoint;

/// <summary>
/// The overlay's upper layer — everything the container wrote — as one archive in a checkpoint. CRIU saves processes,
/// not file systems: the files a restored process expects must be put back beside it. GNU tar keeps what overlayfs
/// encodes in the upper folder: whiteouts (0/0 character devices), opaque folders and other trusted.* / security.*
/// extended attributes, owners by number, modes, hard links and holes.
/// </summary>
public static class UpperLayer
{
    private static readonly string[] Keep = ["--numeric-owner", "--xattrs", "--xattrs-include=*", "--sparse"];

    /// <summary>Archives the folder <paramref name="upper"/> into <paramref name="archive"/>.</summary>
    public static void Capture(string upper, string archive) =>
        ChildProcess.Run("tar", ["--create", "--file", archive, "--directory", upper, .. Keep, "."], $"archiving the container's upper layer {upper}");

    /// <summary>
    /// Makes <paramref name="upper"/> exactly what <paramref name="archive"/> holds and empties the overlay's
    /// <paramref name="work"/> folder. Unpacked aside first, so a failed unpack leaves the old upper layer alone. The
    /// overlay must not be mounted.
    /// </summary>
    public static void Restore(string archive, string upper, string work)
    {
        string parent = Path.GetDirectoryName(upper)!;
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".upper-restore-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            ChildProcess.Run("tar", ["--extract", "--file", archive, "--directory", staging, "--same-permissions", "--same-owner", .. Keep],
                $"unpacking the checkpoint's upper layer {archive}");
            string old = Path.Combine(parent, $".upper-old-{Guid.NewGuid():N}");
            if (Directory.Exists(upper)) Directory.Move(upper, old);
            Directory.Move(staging, upper);
            if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
        // overlayfs keeps scratch state in work; a stale one from another upper layer must not meet the new one.
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true);
        Directory.CreateDirectory(work);
    }
}
