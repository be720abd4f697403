namespace VirtShell.Conformance;

/// <summary>Where a suite's data is: an explicit folder, an environment variable, or shared/testdata beside the repo.</summary>
public static class TestData
{
    /// <param name="folder">The folder under shared/testdata.</param>
    /// <param name="marker">A file or folder inside it that proves it is the suite's.</param>
    public static string? Find(string? explicitDir, string environmentVariable, string folder, string marker)
    {
        if (!string.IsNullOrEmpty(explicitDir)) return explicitDir;
        var env = Environment.GetEnvironmentVariable(environmentVariable);
        if (!string.IsNullOrEmpty(env)) return env;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", "testdata", folder),
                             Path.Combine(dir.FullName, "..", "shared", "testdata", folder) })
                    if (Path.Exists(Path.Combine(candidate, marker))) return Path.GetFullPath(candidate);
        return null;
    }
}
