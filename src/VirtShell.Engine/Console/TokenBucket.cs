namespace VirtShell.Engine.Console;

/// <summary>Bytes a guest may write now: <c>rate</c> per second, up to <c>burst</c> saved up.</summary>
internal sealed class TokenBucket(long rate, long burst, TimeProvider time)
{
    private double _tokens = burst;
    private long _refilledAt = time.GetTimestamp();

    /// <summary>How many of <paramref name="wanted"/> bytes may pass; they are taken from the bucket.</summary>
    public int Take(int wanted)
    {
        long now = time.GetTimestamp();
        _tokens = Math.Min(burst, _tokens + time.GetElapsedTime(_refilledAt, now).TotalSeconds * rate);
        _refilledAt = now;
        int granted = (int)Math.Min(wanted, Math.Floor(_tokens));
        _tokens -= granted;
        return granted;
    }
}
