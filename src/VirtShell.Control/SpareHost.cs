using System.Collections;
using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;
using VirtShell.Engine.Native;
using VirtShell.Engine.Store;

namespace VirtShell.Control;

/// <summary>
/// A host process started ahead of need, one per store: it has paid the runtime's start, the model registry, V8 and
/// the record's serializer, and waits on <c>run/spare.sock</c> for a starter to hand it a machine. Taking it is a
/// connection and two lines (who asks, which machine); its answer is the host's ready line. Each start leaves a new
/// spare warming up behind it (one at a time), and a host whose run has ended waits as the spare when there is none
/// ready, so only the first start of a store pays a cold host, and a restart finds a spare at once.
/// <para>
/// A spare serves only a starter that would have started the same host: the same executable, unchanged, with the
/// same environment (the engine reads settings from it). Any other gets "stale" and starts a host of its own; the
/// stale spare ends. A spare waits <see cref="IdleLimit"/> at most, and ends at once if its socket is gone (the
/// store was deleted). <c>VIRTSHELL_SPARE_HOST=0</c> turns spares off for the processes that have it.
/// </para>
/// </summary>
public static class SpareHost
{
    /// <summary>The host's argument that makes it a spare.</summary>
    public const string Argument = "--spare";
    /// <summary>What a spare answers a starter it cannot serve.</summary>
    public const string StaleLine = "stale";
    /// <summary>
    /// How long a spare waits for a machine: ten minutes, or VIRTSHELL_SPARE_IDLE_SECONDS (a whole number of seconds,
    /// for a store that starts machines seldom or in bursts; anything else is the default).
    /// </summary>
    public static TimeSpan IdleLimit =>
        int.TryParse(Environment.GetEnvironmentVariable("VIRTSHELL_SPARE_IDLE_SECONDS"), out int seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromMinutes(10);
    private const string SwitchVariable = "VIRTSHELL_SPARE_HOST";

    /// <summary>Where a store's spare listens.</summary>
    public static string SocketPath(MachineStore store) => Path.Combine(store.Home, "run", "spare.sock");

    /// <summary>What a spare holds while it waits, so that a store has one at most.</summary>
    public static string LockPath(MachineStore store) => Path.Combine(store.Home, "run", "spare.lock");

    /// <summary>What a spare holds while it warms up, so that a store has one warming up at most.</summary>
    public static string WarmingLockPath(MachineStore store) => Path.Combine(store.Home, "run", "spare-warming.lock");

    /// <summary>How long a starter waits for a spare that is warming up before it starts a host of its own.</summary>
    private static readonly TimeSpan WarmingWait = TimeSpan.FromSeconds(5);

    /// <summary>Where spares write what they have to say before they have a machine.</summary>
    public static string LogPath(MachineStore store) => Path.Combine(store.Home, "run", "spare.log");

    /// <summary>Whether spares are on for this process (and the hosts it starts).</summary>
    public static bool Enabled => Environment.GetEnvironmentVariable(SwitchVariable) != "0";

    /// <summary>
    /// Who a host started from this process would be: the executable, the newest write time among the assemblies
    /// beside it (a rebuilt module is another host), and the environment it would get (this process's, with
    /// <paramref name="dotnetRoot"/>), hashed. A spare computes it from its own.
    /// </summary>
    public static string Identity(string executable, string dotnetRoot)
    {
        var variables = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value, StringComparer.Ordinal);
        variables["DOTNET_ROOT"] = dotnetRoot;
        var built = Directory.GetFiles(Path.GetDirectoryName(executable)!, "*.dll").Append(executable).Max(File.GetLastWriteTimeUtc);
        var text = new StringBuilder($"{executable}\n{built:O}\n");
        foreach (var (name, value) in variables.OrderBy(v => v.Key, StringComparer.Ordinal)) text.Append(name).Append('=').Append(value).Append('\0');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>
    /// Hands machine <paramref name="name"/> to the store's spare and returns its answer line; null when there is no
    /// spare to take (none, off, or stale), and the caller starts a host of its own.
    /// </summary>
    internal static string? TryTake(MachineStore store, string name, string executable, CancellationToken cancel)
    {
        if (!Enabled || !AwaitSpare(store, cancel)) return null;
        string identity = Identity(executable, HostProcess.DotnetRoot);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(SocketPath(store)));
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
        using var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            stream.Write(Encoding.UTF8.GetBytes($"{identity}\n{name}\n"));
            using var reader = new StreamReader(stream, Encoding.UTF8);
            string? line = reader.ReadLineAsync(cancel).AsTask().GetAwaiter().GetResult();
            return line == StaleLine ? null : line;
        }
        catch (IOException)
        {
            // The spare ended as it was taken (its idle time ran out): as if there were none. A machine it had
            // begun to start is refused by that machine's host lock, not started twice.
            return null;
        }
    }

    /// <summary>
    /// Whether the store has a spare listening, after waiting for one that is warming up (or about to listen): it is
    /// ready sooner than a host of the starter's own would be, and a second cold runtime would only slow both. Only
    /// one starter at a time waits so.
    /// </summary>
    private static bool AwaitSpare(MachineStore store, CancellationToken cancel)
    {
        if (File.Exists(SocketPath(store))) return true;
        // One starter waits for the coming spare; the others of a batch start hosts of their own meanwhile.
        using var waiter = TryLock(Path.Combine(store.Home, "run", "spare-waiter.lock"));
        if (waiter is null) return false;
        var waited = Stopwatch.StartNew();
        while (!File.Exists(SocketPath(store)))
        {
            // A spare holds one of the locks from its start until it has stopped listening.
            if (waited.Elapsed > WarmingWait || !(IsHeld(WarmingLockPath(store)) || IsHeld(LockPath(store)))) return false;
            cancel.WaitHandle.WaitOne(10);
            cancel.ThrowIfCancellationRequested();
        }
        return true;
    }

    /// <summary>Starts a spare for the store (with <paramref name="spare"/>) unless one is there or warming up, or spares are off. Does not wait for it.</summary>
    internal static void Replenish(MachineStore store, ProcessStartInfo spare)
    {
        if (!Enabled || IsHeld(LockPath(store)) || IsHeld(WarmingLockPath(store))) return;
        try
        {
            using var process = Process.Start(spare);
            process?.StandardInput.Close();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            // No spare: the next start is a cold one, nothing worse.
        }
    }

    /// <summary>The store's spare lock, taken without waiting; null when a spare holds it or it cannot be opened.</summary>
    public static SafeFileHandle? TryLock(MachineStore store) => TryLock(LockPath(store));

    /// <summary>The store's warming-up lock, taken without waiting; null when a spare warming up holds it or it cannot be opened.</summary>
    public static SafeFileHandle? TryLockWarming(MachineStore store) => TryLock(WarmingLockPath(store));

    private static SafeFileHandle? TryLock(string path)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            return Libc.TryLock(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool IsHeld(string lockPath)
    {
        using var free = TryLock(lockPath);
        return free is null;
    }

    /// <summary>This process's identity as a spare (see <see cref="Identity"/>), from its own executable and environment.</summary>
    public static string OwnIdentity() =>
        Identity(Environment.ProcessPath ?? throw new InvalidOperationException("no process path"),
            Environment.GetEnvironmentVariable("DOTNET_ROOT") ?? HostProcess.DotnetRoot);
}
