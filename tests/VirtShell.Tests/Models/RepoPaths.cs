namespace VirtShell.Tests.Models;

/// <summary>Files of the repository the tests run against (machine definitions and the guests built from them).</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string MachineDef(string name) => Path.Combine(Root, "machine-defs", name);

    /// <summary>A guest binary that build.ps1 assembles; a clear failure when the build step was skipped.</summary>
    public static string RequireGuest(string relative)
    {
        string path = Path.Combine(Root, "machine-defs", relative);
        if (!File.Exists(path))
            throw new InvalidOperationException($"{path} is missing: build the guests first (dotnet pwsh ./build.ps1 -Task Build)");
        return path;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "VirtShell.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no VirtShell.sln above {AppContext.BaseDirectory}");
    }
}
