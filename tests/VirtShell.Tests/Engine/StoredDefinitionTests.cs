using System.Security.Cryptography;
using VirtShell.Engine.Definitions;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Tests.Models;
using VirtShell.Tests.Scripting;

namespace VirtShell.Tests.Engine;

/// <summary>
/// A machine starts from the copy of its definition kept in its folder: the definition and the modules it imports
/// are copied, data paths still resolve against the original's folder, and Set-VirtMachine's engine call
/// (<see cref="VirtualizationHost.Redefine"/>) swaps the copy only for a valid definition of a machine at rest.
/// </summary>
public class StoredDefinitionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>Real mode at 0x7C00: <c>mov al, status; out 0xf4, al</c> (isa-debug-exit), or <c>jmp $</c> when null.</summary>
    private static byte[] Guest(byte? status) => status is { } s ? [0xB0, s, 0xE6, 0xF4] : [0xEB, 0xFE];

    /// <summary>A definition in <paramref name="folder"/> whose memory comes from lib/size.js and whose guest is ./guest.bin.</summary>
    private static string WriteDefinition(string folder, string size, string hookLine)
    {
        Directory.CreateDirectory(Path.Combine(folder, "lib"));
        File.WriteAllText(Path.Combine(folder, "lib", "size.js"), $"export const size = '{size}';\n");
        string path = Path.Combine(folder, "vm.js");
        File.WriteAllText(path, $$"""
            import { machine, debugExit } from 'virtshell';
            import { size } from './lib/size.js';

            export default machine({
              name: 'stored',
              model: 'emulated',
              memory: size,
              devices: [debugExit({ port: 0xf4 })],
              boot: { image: './guest.bin', load: 0x7c00, mode: 'real' },
              hooks: { beforeBoot(vm) { vm.log('{{hookLine}}'); } },
            });
            """);
        return path;
    }

    private static MachineExit Run(Machine machine)
    {
        machine.Start();
        Assert.True(machine.WaitFor([MachineState.Stopped, MachineState.Crashed], Wait));
        return machine.LastExit!;
    }

    private static string MachineLog(Machine machine) => File.ReadAllText(Path.Combine(machine.Directory, MachineStore.LogFile));

    /// <summary>A store in <paramref name="home"/> with machine 'stored' made from defs/vm.js ("version one", 1M), whose guest ends with <paramref name="status"/>.</summary>
    private static (VirtualizationHost Host, Machine Machine, string Definition, string Source) Created(TempFolder home, byte? status)
    {
        string source = Path.Combine(home.Path, "defs");
        string definition = WriteDefinition(source, "1M", "version one");
        File.WriteAllBytes(Path.Combine(source, "guest.bin"), Guest(status));
        var host = TestDefinitions.Host(new MachineStore(Path.Combine(home.Path, "store")));
        return (host, host.Create(definition), definition, source);
    }

    private static string StoredCopy(VirtualizationHost host) => host.Store.StoredDefinitionPath(host.Store.Load("stored")!)!;

    [Fact]
    public void A_start_reads_the_stored_copy_so_editing_or_deleting_the_original_changes_nothing()
    {
        using var home = new TempFolder();
        var (host, machine, definition, source) = Created(home, 3);

        string copy = StoredCopy(host);
        Assert.Equal(File.ReadAllText(definition), File.ReadAllText(copy));
        Assert.Equal(File.ReadAllText(Path.Combine(source, "lib", "size.js")), File.ReadAllText(Path.Combine(Path.GetDirectoryName(copy)!, "lib", "size.js")));
        Assert.Equal(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(definition))), machine.DefinitionHash);
        Assert.Equal(definition, machine.DefinitionSource);

        WriteDefinition(source, "2M", "version two");
        Assert.Equal((3 << 1) | 1, Run(machine).Status);
        Assert.Contains("version one", MachineLog(machine));
        Assert.DoesNotContain("version two", MachineLog(machine));
        Assert.Equal(1UL << 20, machine.Spec.MemoryBytes);   // lib/size.js came from the copy too
        Assert.Equal(definition, machine.Spec.DefinitionPath); // and the data path from the original's folder

        File.Delete(definition);
        Directory.Delete(Path.Combine(source, "lib"), recursive: true);
        Assert.Equal((3 << 1) | 1, Run(machine).Status);
    }

    [Fact]
    public void Redefine_replaces_the_copy_and_its_hash_and_the_next_start_uses_it()
    {
        using var home = new TempFolder();
        var (host, machine, _, _) = Created(home, 3);
        string before = machine.DefinitionHash!;
        string oldCopy = StoredCopy(host);

        string other = WriteDefinition(Path.Combine(home.Path, "other"), "2M", "version two");
        File.WriteAllBytes(Path.Combine(home.Path, "other", "guest.bin"), Guest(4));
        machine = host.Redefine(machine, other);

        Assert.NotEqual(before, machine.DefinitionHash);
        Assert.Equal(other, machine.DefinitionSource);
        Assert.False(File.Exists(oldCopy));
        Assert.Single(Directory.GetDirectories(machine.Directory, "*definition-*"));
        Assert.Equal("stored", machine.Name);
        Assert.Equal((4 << 1) | 1, Run(machine).Status);
        Assert.Contains("version two", MachineLog(machine));
        Assert.Equal(2UL << 20, machine.Spec.MemoryBytes);
    }

    [Fact]
    public void A_definition_that_does_not_validate_is_refused_with_its_file_and_line_and_the_copy_stays()
    {
        using var home = new TempFolder();
        var (host, machine, _, _) = Created(home, 3);
        string copy = StoredCopy(host);
        string text = File.ReadAllText(copy);

        string bad = Path.Combine(home.Path, "bad.js");
        File.WriteAllText(bad, "import { machine } from 'virtshell';\n\nexport default machine({ name: 'x', model: 'emulated', memory: 'lots' });\n");
        var e = Assert.Throws<DefinitionException>(() => host.Redefine(machine, bad));
        Assert.Contains($"{bad}:3", e.Message);

        Assert.Equal(copy, StoredCopy(host));
        Assert.Equal(text, File.ReadAllText(copy));
        Assert.Single(Directory.GetDirectories(machine.Directory, "*definition-*"));
    }

    [Fact]
    public void Redefine_is_refused_while_the_machine_runs()
    {
        using var home = new TempFolder();
        var (host, machine, definition, _) = Created(home, null);
        string hash = machine.DefinitionHash!;
        machine.Start();
        try
        {
            var e = Assert.Throws<MachineStateException>(() => host.Redefine(machine, definition));
            Assert.Contains("Running", e.Message);
        }
        finally
        {
            machine.Stop(turnOff: true, Wait);
        }
        Assert.Equal(hash, host.Store.Load("stored")!.Definition!.Sha256);
    }

    [Fact]
    public void A_machine_recorded_before_copies_were_kept_starts_from_its_original()
    {
        using var home = new TempFolder();
        var (created, _, _, source) = Created(home, 3);
        var store = created.Store;
        store.Save(store.Load("stored")! with { Definition = null });
        StoredDefinition.DeleteOthers(store.MachineDirectory("stored"), null);

        var machine = TestDefinitions.Host(store).Find("stored")!;
        Assert.Null(machine.DefinitionHash);
        WriteDefinition(source, "1M", "version two");
        Assert.Equal((3 << 1) | 1, Run(machine).Status);
        Assert.Contains("version two", MachineLog(machine));
    }
}
