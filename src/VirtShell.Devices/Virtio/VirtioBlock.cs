using System.Buffers.Binary;
using System.Text;
using VirtShell.Devices.Storage;
using VirtShell.Engine.Memory;
using VirtShell.Engine.State;

namespace VirtShell.Devices.Virtio;

/// <summary>
/// virtio-blk on a raw image file (virtio 1.x, 5.2): read, write, flush and get-id. A write is in the file (pwrite
/// returned) before the chain goes on the used ring, so what the guest was told is written survives the machine; a
/// flush also fsyncs the file so it survives the host. Requests that do not fit the disk fail with IOERR.
/// </summary>
/// <remarks>
/// A request is served whole inside the notification that announced it, so between two guest instructions no
/// request is half done: its saved state is the common one (queues, ring positions), and the chains the driver made
/// available but has not announced yet are in the available ring in RAM. The image is captured beside the state.
/// </remarks>
public sealed class VirtioBlock : VirtioDevice, IDiskImageDevice
{
    public const ushort QueueSize = 128;

    private const int FeatureSegMax = 2, FeatureReadOnly = 5, FeatureFlush = 9;
    private const uint TypeIn = 0, TypeOut = 1, TypeFlush = 4, TypeGetId = 8;
    private const byte StatusOk = 0, StatusIoError = 1, StatusUnsupported = 2;
    private const int HeaderSize = 16, IdLength = 20;
    private const int ChunkSize = 64 * 1024;

    private readonly DiskImage _image;
    private readonly byte[] _id;
    private readonly byte[] _chunk = new byte[ChunkSize];

    /// <param name="id">What get-id answers (the serial number a Linux guest shows); at most 20 bytes are used.</param>
    public VirtioBlock(string name, GuestMemory memory, DiskImage image, string id, Action<string> log)
        : base(name, memory, queueCount: 1, QueueSize, log)
    {
        _image = image;
        _id = Encoding.ASCII.GetBytes(id.Length > IdLength ? id[..IdLength] : id);
        // capacity (sectors), size_max (unused), seg_max, geometry (unused), blk_size (unused).
        var config = new byte[24];
        BinaryPrimitives.WriteUInt64LittleEndian(config, image.Sectors);
        BinaryPrimitives.WriteUInt32LittleEndian(config.AsSpan(12), QueueSize - 2u); // room for header and status
        ConfigSpace = config;
    }

    public override uint DeviceId => VirtioDeviceId.Block;
    public string ImagePath => _image.Path;
    public bool ReadOnly => _image.ReadOnly;

    protected override ulong DeviceSpecificFeatures =>
        VirtioFeatures.Bit(FeatureSegMax) | VirtioFeatures.Bit(FeatureFlush) | (_image.ReadOnly ? VirtioFeatures.Bit(FeatureReadOnly) : 0);

    protected override void Process(int index, Virtqueue queue)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        do
        {
            while (queue.Pop() is { } chain)
            {
                // Without a header to read and a status byte to write there is no request to answer at all.
                if (chain.ReadableLength < HeaderSize || chain.WritableLength < 1)
                    throw new MalformedQueueException("a block request lacks its 16-byte header or its status byte");
                chain.Read(Memory, 0, header);
                uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
                ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
                var (status, written) = Execute(chain, type, sector);
                chain.Write(Memory, chain.WritableLength - 1, [status]);
                queue.PushUsed(chain, (uint)(written + 1));
            }
        } while (queue.ArmNotification());
    }

    private (byte Status, long Written) Execute(DescriptorChain chain, uint type, ulong sector)
    {
        try
        {
            return type switch
            {
                TypeIn => Read(chain, sector),
                TypeOut => (Write(chain, sector), 0),
                TypeFlush => (Flush(), 0),
                TypeGetId => GetId(chain),
                _ => (StatusUnsupported, 0),
            };
        }
        catch (IOException e)
        {
            Log($"I/O error on '{_image.Path}': {e.Message}");
            return (StatusIoError, 0);
        }
    }

    /// <summary>The byte offset of a transfer, or null if it is not whole sectors inside the disk.</summary>
    private long? Extent(ulong sector, long length)
    {
        if (length % DiskImage.SectorSize != 0 || sector > _image.Sectors) return null;
        ulong sectors = (ulong)length / DiskImage.SectorSize;
        return sectors <= _image.Sectors - sector ? (long)(sector * DiskImage.SectorSize) : null;
    }

    private (byte, long) Read(DescriptorChain chain, ulong sector)
    {
        long length = chain.WritableLength - 1;
        if (Extent(sector, length) is not long position) return (StatusIoError, 0);
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(ChunkSize, length - done);
            int got = RandomAccess.Read(_image.Handle, _chunk.AsSpan(0, n), position + done);
            // The file shrank under the machine: what is gone reads as zeros rather than stale bytes.
            _chunk.AsSpan(got, n - got).Clear();
            chain.Write(Memory, done, _chunk.AsSpan(0, n));
            done += n;
        }
        return (StatusOk, length);
    }

    private byte Write(DescriptorChain chain, ulong sector)
    {
        if (_image.ReadOnly) return StatusIoError;
        long length = chain.ReadableLength - HeaderSize;
        if (Extent(sector, length) is not long position) return StatusIoError;
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(ChunkSize, length - done);
            chain.Read(Memory, HeaderSize + done, _chunk.AsSpan(0, n));
            RandomAccess.Write(_image.Handle, _chunk.AsSpan(0, n), position + done);
            done += n;
        }
        return StatusOk;
    }

    private byte Flush()
    {
        if (!_image.ReadOnly) RandomAccess.FlushToDisk(_image.Handle);
        return StatusOk;
    }

    private (byte, long) GetId(DescriptorChain chain)
    {
        Span<byte> id = stackalloc byte[IdLength];
        _id.CopyTo(id);
        int room = (int)Math.Min(IdLength, chain.WritableLength - 1);
        return (StatusOk, chain.Write(Memory, 0, id[..room]));
    }

    public override void Dispose() => _image.Dispose();
}
