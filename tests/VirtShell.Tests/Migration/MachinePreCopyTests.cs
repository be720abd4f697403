using System.Text;
using VirtShell.Engine.Checkpoints;
using VirtShell.Engine.Machines;
using VirtShell.Engine.Migration;
using VirtShell.Engine.Store;
using VirtShell.Tests.Models;
using VirtShell.Tests.State;

namespace VirtShell.Tests.Migration;

/// <summary>
/// A machine moved between two stores by pre-copy as Move-VirtMachine does it, through <see cref="Machine"/>'s calls:
/// the stream gathered in a file, the export without memory, the stream put beside the imported state, the start.
/// </summary>
public sealed class MachinePreCopyTests : IDisposable
{
    private readonly string _homeA = Directory.CreateTempSubdirectory("virtshell-precopy-a-").FullName;
    private readonly string _homeB = Directory.CreateTempSubdirectory("virtshell-precopy-b-").FullName;

    public void Dispose()
    {
        Directory.Delete(_homeA, recursive: true);
        Directory.Delete(_homeB, recursive: true);
    }

    private static string Output(Machine machine)
    {
        long offset = 0;
        return Encoding.ASCII.GetString(machine.Console!.ReadFrom(ref offset));
    }

    private static void WaitFor(Machine machine, Func<string, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + GuestConsole.Timeout;
        while (!done(Output(machine)))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what} not seen; the guest printed: {Output(machine)}");
            Thread.Sleep(20);
        }
    }

    [Fact]
    public void A_writing_guest_moves_by_pre_copy_and_goes_on_in_the_other_store_without_booting_again()
    {
        var hostA = TestDefinitions.Host(new MachineStore(_homeA));
        var hostB = TestDefinitions.Host(new MachineStore(_homeB));
        var source = hostA.Create(DirtyPageTrackingTests.ScribblerDefinition("translator"), "scribbler");
        source.Start();
        try
        {
            WaitFor(source, text => text.Contains('.'), "a dot");
            Assert.Null(source.StartPreCopy(new PreCopyLimits(SmallEnough: 8, MaxRounds: 3, PieceBytes: 256 << 10)));
            string stream = Path.Combine(_homeB, "incoming.vsmig");
            using (var file = File.Create(stream))
            {
                while (source.NextPreCopyPiece() is { } piece) file.Write(PreCopyStream.Frame(piece));
                // One piece at the pause, the rest one by one: both ways of the last round.
                var pause = source.PausePreCopy(maxBytes: 1);
                file.Write(pause.StreamBytes);
                Assert.True(pause.More);
                while (source.NextPreCopyPiece() is { } piece) file.Write(PreCopyStream.Frame(piece));
                Assert.True(pause.Rounds.Length >= 1 && pause.Rounds.All(r => r.Live), string.Join("; ", pause.Rounds.Select(r => r.ToString())));
            }
            Assert.Equal(MachineState.Paused, source.State);
            string export = Path.Combine(_homeA, "scribbler.vsx");
            source.Export(export);
            string sourceOutput = Output(source);

            var destination = MachineArchive.Import(hostB, export, null);
            Assert.Equal(MachineState.Saved, destination.State);
            File.Move(stream, PreCopyStream.Beside(CheckpointStore.ResumeState(destination.Directory)!));
            destination.Start();
            try
            {
                WaitFor(destination, text => text.Count(c => c == '.') >= 3, "three dots on the destination");
                Assert.Matches("^[.\n]+$", Output(destination));
                Assert.Matches("^ready\n[.\n]+$", sourceOutput);
            }
            finally
            {
                destination.Stop(turnOff: true, TimeSpan.FromSeconds(10));
            }
        }
        finally
        {
            source.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public void A_saved_state_without_memory_and_without_its_stream_is_refused_at_start_and_the_machine_stays_Saved()
    {
        var hostA = TestDefinitions.Host(new MachineStore(_homeA));
        var hostB = TestDefinitions.Host(new MachineStore(_homeB));
        var source = hostA.Create(DirtyPageTrackingTests.ScribblerDefinition("interpreter"), "scribbler");
        source.Start();
        string export = Path.Combine(_homeA, "scribbler.vsx");
        try
        {
            WaitFor(source, text => text.Contains('.'), "a dot");
            Assert.Null(source.StartPreCopy());
            while (source.NextPreCopyPiece() is not null) { }
            source.PausePreCopy();
            source.Export(export);
        }
        finally
        {
            source.Stop(turnOff: true, TimeSpan.FromSeconds(10));
        }
        var destination = MachineArchive.Import(hostB, export, null);
        var e = Assert.ThrowsAny<Exception>(destination.Start);
        Assert.Contains("no memory section", e.Message);
        Assert.Equal(MachineState.Saved, destination.State);
    }
}
