using VirtShell.Engine.Machines;
using VirtShell.Engine.Store;
using VirtShell.Models;
using VirtShell.Models.Comparison;
using VirtShell.Scripting;
using VirtShell.Tests.Models;

namespace VirtShell.Tests.Comparison;

/// <summary>
/// The definitions Compare-VirtModel writes for each model are valid for that model. Validation needs no KVM, so
/// this also covers the hardware and paravirtual workloads on a host that cannot run them.
/// </summary>
public sealed class ModelWorkloadsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("emulated")]
    [InlineData("hardware")]
    [InlineData("paravirtual")]
    [InlineData("container")]
    public void Every_workload_definition_validates_on_its_model(string model)
    {
        RepoPaths.RequireGuest("guests/kit/kit.bin");
        RepoPaths.RequireGuest("guests/ring3-loop-linux.bin");
        var guests = new ComparisonGuests(Path.GetDirectoryName(RepoPaths.RequireGuest("guests/ring3-loop.bin"))!);
        var store = new MachineStore(Path.Combine(_dir, "store"));
        var host = TestDefinitions.Host(store);
        var workloads = ModelWorkloads.For(model, guests, _dir)!;

        var definitions = new[] { workloads.WriteStartDefinition() }
            .Concat(new[] { workloads.Cpu, workloads.RoundTrip, workloads.Bulk }.Select(w => w.WriteDefinition(w.ShortLength)));
        foreach (var definition in definitions)
            Assert.Equal(model, host.Validate(definition).Model);
    }

    [Fact]
    public void A_model_the_comparison_does_not_know_has_no_workloads()
    {
        var guests = new ComparisonGuests(Path.GetDirectoryName(RepoPaths.RequireGuest("guests/ring3-loop.bin"))!);
        Assert.Null(ModelWorkloads.For("planned", guests, _dir));
    }
}
