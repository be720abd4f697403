using VirtShell.Engine.Native;

namespace VirtShell.Cpu.Kvm.Native;

/// <summary>
/// Gets a vCPU thread out of KVM_RUN: a real-time signal whose handler does nothing, installed without SA_RESTART, so
/// the ioctl returns EINTR. The caller sets kvm_run->immediate_exit first, which covers a thread that is about to
/// enter KVM_RUN when the signal lands.
/// </summary>
/// <remarks>
/// The handler is one <c>ret</c> instruction in a page of its own: a managed handler would run managed code on a
/// thread interrupted at an arbitrary point, which the runtime does not allow. The signal is the highest real-time
/// signal nobody has claimed: .NET takes SIGRTMIN for its own thread activation, and glibc keeps the two below it.
/// </remarks>
internal static unsafe class VcpuKick
{
    private static readonly Lazy<int> InstalledSignal = new(Install, LazyThreadSafetyMode.ExecutionAndPublication);

    public static int Signal => InstalledSignal.Value;

    /// <summary>Sends the kick signal to <paramref name="thread"/>; false if that thread no longer exists.</summary>
    public static bool Kick(nuint thread) => Libc.pthread_kill(thread, Signal) == 0;

    private static int Install()
    {
        nint handler = NoOpHandler();
        for (int signal = Libc.__libc_current_sigrtmax(); signal > Libc.__libc_current_sigrtmin(); signal--)
        {
            Libc.SigAction current;
            if (Libc.sigaction(signal, null, &current) != 0 || current.Handler != 0) continue; // taken (or not SIG_DFL)
            var action = new Libc.SigAction { Handler = handler, Flags = 0 }; // no SA_RESTART: KVM_RUN must return EINTR
            if (Libc.sigaction(signal, &action, null) == 0) return signal;
        }
        throw new KvmException("no free real-time signal to interrupt vCPU threads with");
    }

    private static nint NoOpHandler()
    {
        nint page = Libc.mmap(0, 4096, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        if (page == Libc.MAP_FAILED) throw new KvmException(Libc.Failure("mmap for the vCPU kick handler", Libc.LastError));
        *(byte*)page = 0xC3; // ret
        if (Libc.mprotect(page, 4096, Libc.PROT_READ | Libc.PROT_EXEC) != 0)
            throw new KvmException(Libc.Failure("mprotect for the vCPU kick handler", Libc.LastError));
        return page;
    }
}
