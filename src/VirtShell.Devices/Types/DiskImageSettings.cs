using VirtShell.Devices.Storage;
using VirtShell.Engine.Definitions;

namespace VirtShell.Devices;

/// <summary>The settings of a disk on a raw image file (<c>image</c>, <c>readOnly</c>), which every disk type has.</summary>
internal static class DiskImageSettings
{
    public static string[] Keys { get; } = ["image", "readOnly"];

    public static void Validate(DeviceSpec spec)
    {
        var image = Image(spec);
        if (Directory.Exists(image)) throw DeviceSettings.Error(spec, $"'image' {image} is a directory, not a disk image");
        if (!File.Exists(image)) throw DeviceSettings.Error(spec, $"'image' {image} does not exist (create it first, e.g. with truncate -s 64M)");
        spec.GetBoolean("readOnly");
    }

    /// <summary>The image's full path: a relative one is taken from the definition's folder.</summary>
    public static string Image(DeviceSpec spec)
    {
        var image = ParavirtualSettings.String(spec, "image");
        if (string.IsNullOrWhiteSpace(image)) throw DeviceSettings.Error(spec, "'image' is required: the path of a raw disk image");
        return ParavirtualSettings.FilePath(spec, image);
    }

    /// <summary>Opens and locks the image when the machine is built; what is wrong with it (missing, read-only, in use) names the device.</summary>
    public static DiskImage Open(DeviceSpec spec)
    {
        try
        {
            return DiskImage.Open(Image(spec), spec.GetBoolean("readOnly"));
        }
        catch (DiskImageException e)
        {
            throw new DefinitionException($"{spec.Describe()}: {e.Message}", spec.Source, e);
        }
    }

    /// <summary>A serial number for a disk whose definition names none: the image's file name, cut to fit, in printable ASCII.</summary>
    public static string FileNameSerial(DeviceSpec spec, int maxLength)
    {
        var name = Path.GetFileName(Image(spec));
        if (name.Length > maxLength) name = name[..maxLength];
        return string.Concat(name.Select(c => c is < ' ' or > '~' ? '?' : c));
    }
}
