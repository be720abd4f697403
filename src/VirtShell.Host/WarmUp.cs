using VirtShell.Control;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;

namespace VirtShell.Host;

/// <summary>
/// A spare's rehearsal: one small machine of its own, in a store of its own, run end to end as a real one is (a
/// definition with a hook in V8, the record saved, the emulated PC built and run, its console read over a control
/// connection), so that the code a start runs is loaded and compiled before a starter is waiting on it. The
/// in-process start it is measured against has all of that warm already.
/// </summary>
internal static class WarmUp
{
    /// <summary>Real mode at 0x7C00: "ok" on COM1, then out through debug-exit.</summary>
    private static readonly byte[] Guest =
    [
        0xBA, 0xF8, 0x03,       // mov dx, 0x3f8
        0xB0, (byte)'o', 0xEE,  // mov al, 'o'; out dx, al
        0xB0, (byte)'k', 0xEE,  // mov al, 'k'; out dx, al
        0xB0, 0x00, 0xE6, 0xF4, // mov al, 0; out 0xf4, al
        0xF4,                   // hlt
    ];

    private const string Definition = """
        import { machine, uart16550, debugExit } from 'virtshell';
        export default machine({
          name: 'warm-up', model: 'emulated', memory: '1M',
          devices: [uart16550({ port: 0x3f8, irq: 4, console: true }), debugExit({ port: 0xf4 })],
          boot: { image: './guest.bin', load: 0x7c00, mode: 'real' },
          hooks: { beforeBoot(vm) { vm.log('warm-up'); } },
        });
        """;

    private static readonly MachineState[] Ended = [MachineState.Stopped, MachineState.Crashed];
    private const string FolderPrefix = "virtshell-warm-up-";

    /// <summary>Removes the folders of spares killed while they rehearsed (their process is gone).</summary>
    private static void RemoveLeftovers()
    {
        foreach (var folder in Directory.GetDirectories(Path.GetTempPath(), FolderPrefix + "*"))
        {
            if (!int.TryParse(Path.GetFileName(folder)[FolderPrefix.Length..], out int pid) || Directory.Exists($"/proc/{pid}")) continue;
            try { Directory.Delete(folder, recursive: true); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>Runs the rehearsal in a folder of the system's temp folder, which it removes; a failure is logged and costs only warmth.</summary>
    public static void Run(HostEngine engine)
    {
        RemoveLeftovers();
        string folder = Path.Combine(Path.GetTempPath(), $"{FolderPrefix}{Environment.ProcessId}");
        Machine? machine = null;
        try
        {
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, "guest.bin"), Guest);
            string definition = Path.Combine(folder, "warm-up.js");
            File.WriteAllText(definition, Definition);
            var store = new MachineStore(Path.Combine(folder, "home"));
            machine = new VirtualizationHost(store, engine.Models, engine.Loader).Create(definition);
            string socket = Path.Combine(folder, "control.sock");
            using var server = ControlServer.Listen(socket, new MachineControl(machine));
            using var client = MachineClient.Connect(machine.Name, socket);
            machine.Start();
            client.ReadConsoleAsync(0, 64, 5, CancellationToken.None).GetAwaiter().GetResult();
            machine.WaitFor(Ended, TimeSpan.FromSeconds(10));
            client.GetStateAsync(CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"warm-up: {e.Message}");
        }
        finally
        {
            // A rehearsal cut short (its folder deleted under it, say) must not leave its guest running.
            if (machine?.State.IsLive() == true)
                try { machine.Stop(turnOff: true, TimeSpan.FromSeconds(5)); } catch (MachineStateException) { }
            try { Directory.Delete(folder, recursive: true); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }
}
