using System.Buffers.Binary;
using System.Runtime.InteropServices;
using VirtShell.Engine.Native;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace VirtShell.Conformance.X87Differential;

/// <summary>What a sequence left: the six test registers, EFLAGS, an FXSAVE image and the data buffer.</summary>
internal sealed class FuzzOutcome
{
    public required uint[] Gpr { get; init; }
    public required uint Flags { get; init; }
    public required byte[] Fxsave { get; init; }
    public required byte[] Data { get; init; }
}

/// <summary>
/// The reference: the sequence run natively on the host CPU, in this process, in 64-bit user mode. The generated
/// instructions address memory as [EDI+disp] (an address-size prefix in 64-bit mode), so the data buffer sits below
/// 4 GiB (MAP_32BIT). A wrapper saves the caller's x87/SSE state and callee-saved registers, loads the case's FXSAVE
/// image, registers and flags, runs the sequence, and stores everything back. Only sequences the interpreter ran to
/// the end without an exception get here, and every x87 exception is masked, so nothing can fault.
/// </summary>
internal sealed unsafe class HostReference : IDisposable
{
    private const int PageSize = 4096, CodeSize = 64 * 1024;
    private const int DataAt = 0, FxIn = 512, FxOut = 1024, FxCaller = 1536, GprIn = 2048, FlagsIn = 2080, DataPointer = 2088,
        GprOut = 2112, FlagsOut = 2144;

    private readonly byte* _block, _code;

    /// <summary>Why the host cannot serve as the reference, or null.</summary>
    public static string? Unavailable =>
        RuntimeInformation.ProcessArchitecture != Architecture.X64 ? $"the host is {RuntimeInformation.ProcessArchitecture}, not x86-64"
        : !OperatingSystem.IsLinux() ? "the native harness needs Linux (MAP_32BIT)" : null;

    public HostReference()
    {
        nint block = Libc.mmap(0, PageSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_32BIT, -1, 0);
        if (block == Libc.MAP_FAILED) throw Libc.Error("mmap of the native harness's data page");
        nint code = Libc.mmap(0, CodeSize, Libc.PROT_READ | Libc.PROT_WRITE | Libc.PROT_EXEC, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        if (code == Libc.MAP_FAILED)
        {
            int errno = Libc.LastError;
            Libc.munmap(block, PageSize);
            throw Libc.Error("mmap of the native harness's code", errno);
        }
        _block = (byte*)block;
        _code = (byte*)code;
    }

    public FuzzOutcome Run(FuzzCase c)
    {
        var block = new Span<byte>(_block, PageSize);
        block.Clear();
        c.Data.CopyTo(block[DataAt..]);
        c.Fxsave.CopyTo(block[FxIn..]);
        for (int i = 0; i < c.Gpr.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(block[(GprIn + 4 * i)..], c.Gpr[i]);
        BinaryPrimitives.WriteUInt64LittleEndian(block[FlagsIn..], 0x202 | c.Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(block[DataPointer..], (ulong)(_block + DataAt));

        var code = Wrapper(c);
        if (code.Length > CodeSize) throw new InvalidOperationException("sequence too long for the native harness");
        code.CopyTo(new Span<byte>(_code, CodeSize));
        ((delegate* unmanaged<byte*, void>)_code)(_block);

        var gpr = new uint[c.Gpr.Length];
        for (int i = 0; i < gpr.Length; i++) gpr[i] = BinaryPrimitives.ReadUInt32LittleEndian(block[(GprOut + 4 * i)..]);
        return new FuzzOutcome
        {
            Gpr = gpr,
            Flags = (uint)BinaryPrimitives.ReadUInt64LittleEndian(block[FlagsOut..]),
            Fxsave = block.Slice(FxOut, 512).ToArray(),
            Data = block.Slice(DataAt, FuzzCase.DataSize).ToArray(),
        };
    }

    private byte[] Wrapper(FuzzCase c)
    {
        var a = new Assembler(64);
        a.push(rbx); a.push(rbp); a.push(r12); a.push(r13); a.push(r14); a.push(r15);
        a.mov(r15, rdi);
        a.fxsave(__[r15 + FxCaller]);
        a.fxrstor(__[r15 + FxIn]);
        var regs = new[] { eax, ecx, edx, ebx, ebp, esi };
        for (int i = 0; i < regs.Length; i++) a.mov(regs[i], __dword_ptr[r15 + GprIn + 4 * i]);
        a.mov(edi, __dword_ptr[r15 + DataPointer]);
        a.push(__qword_ptr[r15 + FlagsIn]);
        a.popfq();
        foreach (var i in c.Code) a.AddInstruction(i);
        a.pushfq();
        a.pop(__qword_ptr[r15 + FlagsOut]);
        for (int i = 0; i < regs.Length; i++) a.mov(__dword_ptr[r15 + GprOut + 4 * i], regs[i]);
        a.fxsave(__[r15 + FxOut]);
        a.fxrstor(__[r15 + FxCaller]);
        a.cld();
        a.pop(r15); a.pop(r14); a.pop(r13); a.pop(r12); a.pop(rbp); a.pop(rbx);
        a.ret();
        using var ms = new MemoryStream();
        a.Assemble(new StreamCodeWriter(ms), (ulong)_code);
        return ms.ToArray();
    }

    public void Dispose()
    {
        Libc.munmap((nint)_block, PageSize);
        Libc.munmap((nint)_code, CodeSize);
    }
}
