namespace VirtShell.Scripting.Runtime;

/// <summary>
/// The one thread that runs every call into a definition's V8 engine (V8 is single-threaded). Work comes in two
/// queues: urgent work (a guest CPU waiting on a script device) runs before ordinary work (hooks, in order).
/// </summary>
internal sealed class ScriptThread : IDisposable
{
    private readonly object _lock = new();
    private readonly Queue<Action> _urgent = new();
    private readonly Queue<Action> _ordinary = new();
    private readonly Thread _thread;
    private bool _closing;

    // V8 checks its own stack limit; a roomy thread stack keeps deep but legal recursion from reaching the OS guard page.
    private const int StackBytes = 16 << 20;

    public ScriptThread(string name)
    {
        _thread = new Thread(Loop, StackBytes) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public bool IsCurrent => Thread.CurrentThread == _thread;

    /// <summary>Ordinary work waiting to run.</summary>
    public int Pending { get { lock (_lock) return _ordinary.Count; } }

    /// <summary>Runs <paramref name="work"/> on the script thread and waits for it; its exception is rethrown here.</summary>
    public T Invoke<T>(Func<T> work, bool urgent = false)
    {
        if (IsCurrent) return work();
        T result = default!;
        Exception? error = null;
        using var done = new ManualResetEventSlim();
        bool queued = Enqueue(() =>
        {
            try { result = work(); }
            catch (Exception e) { error = e; }
            finally { done.Set(); }
        }, urgent);
        if (!queued) throw new ObjectDisposedException(nameof(ScriptThread), "the definition's script engine has been released");
        done.Wait();
        if (error != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        return result;
    }

    /// <summary>
    /// Queues <paramref name="work"/> behind earlier ordinary work; false once the thread is closing. The work must
    /// handle its own errors: nobody waits for it, so an exception would end the process.
    /// </summary>
    public bool Post(Action work) => Enqueue(work, urgent: false);

    private bool Enqueue(Action work, bool urgent)
    {
        lock (_lock)
        {
            if (_closing) return false;
            (urgent ? _urgent : _ordinary).Enqueue(work);
            Monitor.Pulse(_lock);
            return true;
        }
    }

    private void Loop()
    {
        while (true)
        {
            Action work;
            lock (_lock)
            {
                while (_urgent.Count == 0 && _ordinary.Count == 0 && !_closing) Monitor.Wait(_lock);
                if (_urgent.Count > 0) work = _urgent.Dequeue();
                else if (_ordinary.Count > 0) work = _ordinary.Dequeue();
                else return;
            }
            work();
        }
    }

    /// <summary>
    /// Lets the queued work finish (each item is time-limited by its caller) and ends the thread. The final item
    /// is <paramref name="last"/>, typically releasing the engine on the thread that used it.
    /// </summary>
    public void Close(Action last)
    {
        lock (_lock)
        {
            if (_closing) return;
            _ordinary.Enqueue(last);
            _closing = true;
            Monitor.Pulse(_lock);
        }
        if (!IsCurrent) _thread.Join();
    }

    public void Dispose() => Close(() => { });
}
