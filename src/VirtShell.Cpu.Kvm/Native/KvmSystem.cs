using System.Runtime.InteropServices;
using VirtShell.Engine.Native;

namespace VirtShell.Cpu.Kvm.Native;

/// <summary>
/// An open <c>/dev/kvm</c> checked for what we need (API 12 and the capabilities in <see cref="KvmApi.Required"/>).
/// Held only while a VM is created: the VM and vCPU fds live on without it.
/// </summary>
internal sealed unsafe class KvmSystem : IDisposable
{
    public const string DevicePath = "/dev/kvm";

    private readonly FileDescriptor _fd;

    private KvmSystem(FileDescriptor fd) => _fd = fd;

    /// <summary>Opens and checks /dev/kvm (or another path, for tests); throws <see cref="KvmUnavailableException"/> with the reason.</summary>
    public static KvmSystem Open(string devicePath = DevicePath)
    {
        int fd = Libc.open(devicePath, Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Libc.LastError;
            throw new KvmUnavailableException(errno switch
            {
                Libc.ENOENT => $"{devicePath} does not exist (no KVM module loaded, or no hardware virtualization on this host)",
                Libc.EACCES => $"{devicePath} is not read-write for this user (add the user to the group that owns it, usually 'kvm')",
                _ => $"{devicePath} cannot be opened read-write: {Libc.Describe(errno)}",
            });
        }
        var system = new KvmSystem(new FileDescriptor(fd));
        try
        {
            int version = Libc.ioctl(fd, KvmApi.GetApiVersion, 0);
            if (version != KvmApi.ExpectedApiVersion)
                throw new KvmUnavailableException(version < 0
                    ? $"{devicePath} is not a KVM device ({Libc.Describe(Libc.LastError)})"
                    : $"{devicePath} speaks KVM API version {version}; VirtShell needs {KvmApi.ExpectedApiVersion}");
            var missing = KvmApi.Required.Where(c => !system.HasCapability(c)).ToList();
            if (missing.Count > 0)
                throw new KvmUnavailableException($"KVM on this host lacks {string.Join(", ", missing.Select(c => "KVM_CAP_" + c))}");
            return system;
        }
        catch
        {
            system.Dispose();
            throw;
        }
    }

    public int Fd => _fd.Value;

    public bool HasCapability(KvmApi.Capability capability) => Libc.ioctl(Fd, KvmApi.CheckExtension, (nint)capability) > 0;

    public int CapabilityValue(KvmApi.Capability capability) => Libc.ioctl(Fd, KvmApi.CheckExtension, (nint)capability);

    public int VcpuMmapSize => Check(Libc.ioctl(Fd, KvmApi.GetVcpuMmapSize, 0), "KVM_GET_VCPU_MMAP_SIZE");

    /// <summary>Every CPUID leaf KVM can give a guest on this host (asked once per process: it does not change).</summary>
    public KvmCpuidEntry2[] SupportedCpuid() => _supportedCpuid ??= QueryVariable<KvmCpuidEntry2>(KvmApi.GetSupportedCpuid, "KVM_GET_SUPPORTED_CPUID", 8);

    /// <summary>The MSRs KVM saves and restores for a guest.</summary>
    public uint[] MsrIndexList() => _msrIndexList ??= QueryVariable<uint>(KvmApi.GetMsrIndexList, "KVM_GET_MSR_INDEX_LIST", 4);

    private static KvmCpuidEntry2[]? _supportedCpuid;
    private static uint[]? _msrIndexList;

    /// <summary>
    /// Calls an ioctl that fills a count-prefixed array (kvm_cpuid2, kvm_msr_list), growing the buffer while the
    /// kernel answers E2BIG.
    /// </summary>
    private T[] QueryVariable<T>(nuint request, string name, int headerSize) where T : unmanaged
    {
        for (int count = 64; count <= 1 << 16; count *= 2)
        {
            int bytes = headerSize + count * sizeof(T);
            byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
            try
            {
                *(uint*)buffer = (uint)count;
                if (Libc.ioctl(Fd, request, (nint)buffer) < 0)
                {
                    int errno = Libc.LastError;
                    if (errno == Libc.E2BIG) continue;
                    throw new KvmException(Libc.Failure(name, errno));
                }
                return new ReadOnlySpan<T>(buffer + headerSize, (int)*(uint*)buffer).ToArray();
            }
            finally
            {
                NativeMemory.Free(buffer);
            }
        }
        throw new KvmException($"{name}: the kernel's list does not fit in 65536 entries");
    }

    internal static int Check(int result, string what)
    {
        if (result < 0) throw new KvmException(Libc.Failure(what, Libc.LastError));
        return result;
    }

    public void Dispose() => _fd.Dispose();
}
