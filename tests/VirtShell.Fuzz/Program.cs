using System.Diagnostics;
using SharpFuzz;

namespace VirtShell.Fuzz;

/// <summary>
/// <c>VirtShell.Fuzz &lt;target&gt;</c> runs under afl-fuzz (build.ps1 -Task Fuzz starts it on instrumented
/// assemblies); <c>VirtShell.Fuzz &lt;target&gt; FILE...</c> runs the files once each and says how each ended, which
/// is how a finding is reproduced outside afl.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || !FuzzTargets.Names.Contains(args[0]))
        {
            Console.Error.WriteLine($"usage: VirtShell.Fuzz <{string.Join('|', FuzzTargets.Names)}> [FILE...]");
            return 2;
        }
        if (args.Length == 1) return Fuzz(args[0]);
        using var target = FuzzTargets.Create(args[0]);
        return Replay(target, args[1..]);
    }

    private static int Fuzz(string name)
    {
        // A hang would only get the whole process killed by afl-fuzz, losing which input it was: the watchdog keeps
        // the input in VIRTSHELL_FUZZ_HANGS (when set) before ending the process.
        using var watchdog = new HangWatchdog(name, Environment.GetEnvironmentVariable("VIRTSHELL_FUZZ_HANGS"));
        IFuzzTarget? target = null;
        Fuzzer.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var input = buffer.ToArray();
            // Instrumented code may run only inside Fuzzer.Run, once SharpFuzz has mapped afl's coverage map: the
            // target is made on the first input.
            target ??= FuzzTargets.Create(name);
            watchdog.Begin(input);
            try { _ = target.Run(input); }
            finally { watchdog.End(); }
        });
        target?.Dispose();
        return 0;
    }

    private static int Replay(IFuzzTarget target, string[] files)
    {
        int failed = 0;
        foreach (var file in files)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                string outcome = target.Run(File.ReadAllBytes(file));
                Console.WriteLine($"ok      {clock.ElapsedMilliseconds,6} ms  {file}: {outcome}");
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine($"FINDING {clock.ElapsedMilliseconds,6} ms  {file}\n{e}");
            }
        }
        return failed == 0 ? 0 : 1;
    }

    /// <summary>Ends the process, after saving the input, when one input runs past <see cref="FuzzTargets.HangLimit"/>.</summary>
    private sealed class HangWatchdog : IDisposable
    {
        private readonly string _target;
        private readonly string? _folder;
        private readonly Timer _timer;
        private byte[]? _input;
        private TimeSpan _cpuAtBegin;
        private long _begun;

        public HangWatchdog(string target, string? folder)
        {
            _target = target;
            _folder = folder;
            _timer = new Timer(_ => Fire());
        }

        public void Begin(byte[] input)
        {
            Volatile.Write(ref _input, input);
            _cpuAtBegin = Process.GetCurrentProcess().TotalProcessorTime;
            _begun = Stopwatch.GetTimestamp();
            _timer.Change(FuzzTargets.HangLimit, Timeout.InfiniteTimeSpan);
        }

        public void End()
        {
            _timer.Change(Timeout.Infinite, Timeout.Infinite);
            Volatile.Write(ref _input, null);
        }

        private void Fire()
        {
            var input = Volatile.Read(ref _input);
            if (input == null) return;
            // Busy (a loop) or idle (a deadlock, or a host that gave the process no time) tells where to look.
            var process = Process.GetCurrentProcess();
            string what = $"{_target}: one input ran longer than {FuzzTargets.HangLimit.TotalSeconds} s " +
                $"({Stopwatch.GetElapsedTime(_begun).TotalSeconds:0.0} s, of which {(process.TotalProcessorTime - _cpuAtBegin).TotalSeconds:0.0} s CPU in this process, {process.Threads.Count} threads)";
            if (_folder != null)
            {
                Directory.CreateDirectory(_folder);
                string name = $"hang-{Convert.ToHexString(System.Security.Cryptography.SHA1.HashData(input))[..16].ToLowerInvariant()}";
                File.WriteAllBytes(Path.Combine(_folder, name), input);
                File.AppendAllText(_folder.TrimEnd('/') + ".log", $"{DateTime.UtcNow:O} {name}: {what}\n");
            }
            Environment.FailFast(what);
        }

        public void Dispose() => _timer.Dispose();
    }
}
