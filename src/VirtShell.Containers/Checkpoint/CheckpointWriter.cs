using VirtShell.Containers.Bundle;
using VirtShell.Containers.Runc;
using VirtShell.Engine.Machines;

namespace VirtShell.Containers.Checkpoint;

/// <summary>
/// Writes a <see cref="ContainerCheckpoint"/> folder from a frozen container: CRIU's images through runc, the bundle's
/// config.json, the upper layer, then the manifest. Built under a hidden name beside the target and renamed into place,
/// so the folder appears whole or not at all.
/// </summary>
internal static class CheckpointWriter
{
    public static void Write(RuncClient runc, string criu, string machineName, ContainerPlacement placement, string upper, string lowerImage, string directory, bool leftRunning)
    {
        string parent = Path.GetDirectoryName(directory)!;
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(directory)}.partial-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            string work = Path.Combine(staging, "work");
            try
            {
                runc.Checkpoint(placement.ContainerId, criu, Path.Combine(staging, ContainerCheckpoint.ImagesFolder), work);
            }
            catch (RuncException e)
            {
                throw new CheckpointException($"CRIU could not checkpoint container '{machineName}': " +
                                              (CriuLog.LastErrors(Path.Combine(work, "dump.log")) ?? e.Message));
            }
            File.Move(Path.Combine(work, "dump.log"), Path.Combine(staging, ContainerCheckpoint.DumpLog));
            Directory.Delete(work, recursive: true);
            File.Copy(Path.Combine(placement.BundleDirectory, OciBundle.ConfigFile), Path.Combine(staging, ContainerCheckpoint.ConfigFile));
            UpperLayer.Capture(upper, Path.Combine(staging, ContainerCheckpoint.UpperArchive));
            ContainerCheckpoint.Seal(staging, new CheckpointManifest
            {
                Model = "container",
                Machine = machineName,
                Created = DateTime.UtcNow,
                LowerImage = lowerImage,
                LeftRunning = leftRunning,
                Criu = CriuCheck.Version(criu),
                Runc = runc.Version(),
            });
            Directory.Move(staging, directory);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }
}
