using VirtShell.Engine.State;

namespace VirtShell.Cpu.Kvm;

internal static class StateReaderExtensions
{
    /// <summary>Reads length-prefixed bytes that must fill <paramref name="into"/> exactly (a kernel structure).</summary>
    public static void ReadExactly(this StateReader r, byte[] into, string what)
    {
        var bytes = r.ReadBytes(into.Length, what);
        r.Check(bytes.Length == into.Length, $"{what} is {bytes.Length} bytes, not {into.Length}");
        bytes.CopyTo(into);
    }
}
