namespace VirtShell.Cpu.Interpreter;

/// <summary>Exception vectors the CPU raises itself.</summary>
internal static class Vector
{
    public const int DivideError = 0, Debug = 1, Nmi = 2, Breakpoint = 3, Overflow = 4, Bound = 5, InvalidOpcode = 6,
        DeviceNotAvailable = 7, DoubleFault = 8, InvalidTss = 10, SegmentNotPresent = 11, StackFault = 12,
        GeneralProtection = 13, PageFault = 14, FloatingPointError = 16, SimdFloatingPoint = 19;
}

/// <summary>
/// A guest exception raised inside an instruction handler. Handlers check before they change state, so unwinding to
/// the run loop and restarting at the instruction's first byte is exact.
/// </summary>
internal sealed class CpuFault(int vector, int errorCode = -1) : Exception($"exception {vector}")
{
    public int Vector { get; } = vector;
    /// <summary>-1 when the vector pushes no error code.</summary>
    public int ErrorCode { get; } = errorCode;
}

/// <summary>A fault while delivering a double fault: the CPU shuts down.</summary>
internal sealed class TripleFault(string message) : Exception(message);

/// <summary>Valid x86 that this interpreter does not implement: reported, never silently mis-executed.</summary>
internal sealed class UnimplementedInstruction(string message) : Exception(message);
