using System.Security.Cryptography;
using VirtShell.Engine.Memory;

namespace VirtShell.Devices.Virtio;

/// <summary>virtio-rng (virtio 1.x, 5.4): fills each buffer the guest offers with host randomness.</summary>
public sealed class VirtioRng : VirtioDevice
{
    public const ushort QueueSize = 64;
    /// <summary>Bytes given per buffer at most; the driver asks again for more, and one request stays cheap.</summary>
    public const int MaxPerRequest = 64 * 1024;

    private readonly byte[] _random = new byte[MaxPerRequest];

    public VirtioRng(string name, GuestMemory memory, Action<string> log) : base(name, memory, queueCount: 1, QueueSize, log) { }

    public override uint DeviceId => VirtioDeviceId.Entropy;

    protected override void Process(int index, Virtqueue queue)
    {
        do
        {
            while (queue.Pop() is { } chain)
            {
                if (chain.WritableLength == 0) throw new MalformedQueueException("an entropy request has no device-writable buffer");
                var random = _random.AsSpan(0, (int)Math.Min(chain.WritableLength, MaxPerRequest));
                RandomNumberGenerator.Fill(random);
                queue.PushUsed(chain, (uint)chain.Write(Memory, 0, random));
            }
        } while (queue.ArmNotification());
    }
}
