using System.Diagnostics;

namespace VirtShell.Tests.Kvm;

/// <summary>Assembles a test guest from source with nasm (the build needs nasm for the guests anyway).</summary>
internal static class Nasm
{
    public static byte[] Assemble(string source)
    {
        var dir = Directory.CreateTempSubdirectory("virtshell-nasm-");
        try
        {
            string asm = Path.Combine(dir.FullName, "guest.asm"), bin = Path.Combine(dir.FullName, "guest.bin");
            File.WriteAllText(asm, source);
            using var nasm = Process.Start(new ProcessStartInfo("nasm", ["-f", "bin", "-o", bin, asm]) { RedirectStandardError = true })!;
            string errors = nasm.StandardError.ReadToEnd();
            nasm.WaitForExit();
            if (nasm.ExitCode != 0) throw new InvalidOperationException($"nasm failed: {errors}");
            return File.ReadAllBytes(bin);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
