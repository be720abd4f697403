namespace VirtShell.Engine.Console;

/// <summary>
/// Finds the detach key in what an attached terminal types, as <c>virsh console</c> and <c>docker attach</c> do: the
/// bytes before it go to the guest, the key itself and anything after it do not. A sequence split across reads is
/// held back until it is whole or broken; a broken one was typed for the guest and goes to it.
/// </summary>
public sealed class DetachKeys
{
    /// <summary>Ctrl+] (GS, 0x1D), the key <c>virsh console</c> and <c>telnet</c> use.</summary>
    public static readonly byte[] CtrlCloseBracket = [0x1D];

    private readonly byte[] _keys;
    private int _held;

    /// <param name="keys">The sequence that detaches; at least one byte.</param>
    public DetachKeys(byte[] keys)
    {
        if (keys.Length == 0) throw new ArgumentException("a detach sequence needs at least one byte", nameof(keys));
        _keys = keys;
    }

    /// <summary>Whether the whole sequence has been typed; nothing is forwarded after that.</summary>
    public bool Detached { get; private set; }

    /// <summary>The bytes of <paramref name="typed"/> that go to the guest.</summary>
    public byte[] Filter(ReadOnlySpan<byte> typed)
    {
        var forward = new List<byte>(typed.Length + _held);
        foreach (byte b in typed)
        {
            if (Detached) break;
            if (b == _keys[_held])
            {
                if (++_held == _keys.Length) Detached = true;
                continue;
            }
            if (_held > 0)
            {
                forward.AddRange(_keys.AsSpan(0, _held));
                _held = 0;
                if (b == _keys[0])
                {
                    _held = 1;
                    Detached = _keys.Length == 1;
                    continue;
                }
            }
            forward.Add(b);
        }
        return [.. forward];
    }
}
