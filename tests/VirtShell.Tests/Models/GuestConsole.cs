using System.Text;
using VirtShell.Engine.Machines;

namespace VirtShell.Tests.Models;

/// <summary>Reading a running guest's console the way a person at a terminal would: wait for some text.</summary>
internal static class GuestConsole
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Reads from <paramref name="offset"/> until <paramref name="text"/> shows; returns what was read.</summary>
    public static string WaitForText(Machine vm, ref long offset, string text)
    {
        var seen = new StringBuilder();
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            seen.Append(Encoding.ASCII.GetString(vm.Console!.ReadFrom(ref offset)));
            if (seen.ToString().Contains(text)) return seen.ToString();
            vm.Console.WaitForOutput(offset, TimeSpan.FromMilliseconds(200));
        }
        throw new TimeoutException($"'{text}' not seen; the guest printed: {seen}");
    }
}
