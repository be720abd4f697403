using VirtShell.Engine.Machines;
using VirtShell.Engine.Migration;
using VirtShell.Engine.State;
using VirtShell.Models.Emulated;
using VirtShell.Tests.Models;
using VirtShell.Tests.State;

namespace VirtShell.Tests.Migration;

/// <summary>
/// Pre-copy between two emulated machines in one process: the source keeps writing through the live rounds, and after
/// the last round, taken paused, the destination's RAM is the source's byte for byte and the guest goes on there.
/// </summary>
public sealed class PreCopyTests
{
    [Theory]
    [InlineData("interpreter")]
    [InlineData("translator")]
    public void A_guest_that_keeps_writing_arrives_with_every_byte_of_its_RAM_and_goes_on(string tier)
    {
        using var definition = TestDefinitions.Loader().Load(DirtyPageTrackingTests.ScribblerDefinition(tier));
        using var source = SavedStateRig.Boot(definition);
        source.WaitFor(text => text.Contains('.'), "a dot of writing");
        var model = new EmulatedModel();
        IReadOnlyList<PreCopyRound> rounds = [];
        byte[] sourceRam = [], destinationRam = [];
        string sourceOutput = "";

        using var destination = SavedStateRig.Start(definition, services =>
        {
            var incoming = model.BuildIncoming(definition.Spec, services);
            var receiver = new PreCopyReceiver(incoming.Memory);
            // Small pieces and a low bar, so that there are live rounds after the first while the guest writes.
            using var sender = new PreCopySender(source.Runtime.Memory, source.Runtime.DirtyPageTracking!, new PreCopyLimits(SmallEnough: 8, MaxRounds: 4, PieceBytes: 64 << 10));
            while (sender.NextPiece() is { } piece)
            {
                receiver.Apply(piece);
                Thread.Sleep(1);
            }
            source.Runtime.Pause();
            foreach (var piece in sender.FinalPieces()) receiver.Apply(piece);
            var state = new MemoryStream();
            source.Runtime.SaveState(state, withMemory: false);
            state.Position = 0;
            incoming.RestoreState(SavedState.Read(state), withMemory: false);
            rounds = sender.Rounds;
            sourceRam = source.Runtime.Memory.Read(0, (int)source.Runtime.Memory.Size);
            destinationRam = incoming.Memory.Read(0, (int)incoming.Memory.Size);
            sourceOutput = source.Output();
            return incoming;
        });

        Assert.True(rounds.Count >= 2, $"rounds: {string.Join("; ", rounds)}");
        Assert.True(rounds[0].Live && rounds[0].Pages > 1000, $"round 1: {rounds[0]}");
        Assert.True(rounds[1].Pages > 0, $"the guest wrote nothing during round 1: {string.Join("; ", rounds)}");
        Assert.False(rounds[^1].Live);
        Assert.True(sourceRam.AsSpan().SequenceEqual(destinationRam), "the destination's RAM differs from the source's");

        // (A line cut by the pause goes on on the destination: "." there, "\n" here.)
        string after = destination.WaitFor(text => text.Count(c => c == '.') >= 3, "three more dots on the destination");
        Assert.Matches("^[.\n]+$", after);
        Assert.Matches("^ready\n[.\n]+$", sourceOutput);
        Assert.Null(destination.Exit);
    }

    [Fact]
    public void A_damaged_piece_is_refused_with_the_reason()
    {
        using var memory = new VirtShell.Engine.Memory.GuestMemory();
        memory.AddRam(0, 1 << 20);
        var receiver = new PreCopyReceiver(memory);
        var e = Assert.Throws<StateFormatException>(() => receiver.Apply(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }));
        Assert.Contains("not a piece of VirtShell's migration stream", e.Message);

        using var other = new VirtShell.Engine.Memory.GuestMemory();
        other.AddRam(0, 2 << 20);
        other.Write(0x1F_F000, [1]);
        var beyond = MemoryDelta.Encode(other, [0x1FF], 1 << 20).Single();
        e = Assert.Throws<StateFormatException>(() => receiver.Apply(beyond));
        Assert.Contains("no RAM", e.Message);
    }
}
