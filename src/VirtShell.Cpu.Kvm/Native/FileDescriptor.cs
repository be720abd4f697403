using System.Runtime.InteropServices;
using VirtShell.Engine.Native;

namespace VirtShell.Cpu.Kvm.Native;

/// <summary>An owned file descriptor (the KVM system, a VM, a vCPU): closed exactly once, even if an owner forgets.</summary>
internal sealed class FileDescriptor : SafeHandle
{
    public FileDescriptor(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle < 0;

    public int Value => IsClosed ? throw new ObjectDisposedException(nameof(FileDescriptor)) : (int)handle;

    protected override bool ReleaseHandle() => Libc.close((int)handle) == 0;
}
