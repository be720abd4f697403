using VirtShell.Devices;
using VirtShell.Engine.Buses;
using VirtShell.Engine.Machines;
using Xunit;

namespace VirtShell.Tests.Devices;

public sealed class DebugExitTests
{
    [Theory]
    [InlineData(1, 0x00u, 1)]
    [InlineData(1, 0x10u, 0x21)]
    [InlineData(1, 0x7Fu, 0xFF)]
    [InlineData(2, 0x1234u, 0x2469)]
    [InlineData(4, 0x4000_0000u, unchecked((int)0x8000_0001))]
    public void Write_EndsTheMachine_WithStatusVShiftedLeftOr1(int size, uint value, int status)
    {
        var exits = new List<MachineExit>();
        var ports = new IoPortBus();
        ports.Register(0xF4, size, new DebugExit(exits.Add), "debug exit");
        ports.Write(0xF4, size, value);
        var exit = Assert.Single(exits);
        Assert.Equal(ExitReason.DebugExit, exit.Reason);
        Assert.Equal(status, exit.Status);
    }

    [Fact]
    public void Read_FloatsLikeAnEmptyPort()
    {
        var exits = new List<MachineExit>();
        var device = new DebugExit(exits.Add);
        Assert.Equal(0xFFu, device.ReadPort(0xF4, 1));
        Assert.Empty(exits);
    }
}
