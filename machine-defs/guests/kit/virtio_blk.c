#include "blk.h"
#include "virtio.h"

enum { TYPE_IN = 0, TYPE_OUT = 1, TYPE_FLUSH = 4 };
#define F_RO (1ull << 5)
#define F_FLUSH (1ull << 9)

struct header {
    uint32_t type, reserved;
    uint64_t sector;
};

static struct virtio_dev device;
static struct virtq requests;
static struct virtq_area requests_area __attribute__((aligned(4096)));
static uint64_t capacity;

int blk_init(void)
{
    int error = virtio_find(VIRTIO_ID_BLOCK, &device);
    if (!error) error = virtio_negotiate(&device, F_RO | F_FLUSH);
    if (!error) error = virtq_setup(&requests, &device, 0, &requests_area);
    if (error) return error;
    capacity = virtio_config_read32(&device, 0) | (uint64_t)virtio_config_read32(&device, 4) << 32;
    virtio_driver_ok(&device);
    return 0;
}

uint64_t blk_capacity(void) { return capacity; }
int blk_read_only(void) { return (device.features & F_RO) != 0; }

/* One request: header, segments data buffers of length bytes each (the same buffer), status byte. */
static int request(uint32_t type, uint64_t sector, const void *data, uint32_t length, int segments)
{
    struct header header = { .type = type, .sector = sector };
    volatile uint8_t status = 0xff;
    struct virtq_buf bufs[BLK_MAX_SEGMENTS + 2];
    if (segments > BLK_MAX_SEGMENTS) return VIRTIO_ERR_TOO_MANY;
    int n = 0;
    bufs[n++] = (struct virtq_buf){ &header, sizeof header, 0 };
    for (int i = 0; i < segments; i++) bufs[n++] = (struct virtq_buf){ data, length, type == TYPE_IN };
    bufs[n++] = (struct virtq_buf){ (const void *)&status, 1, 1 };
    int64_t used = virtq_transfer(&requests, bufs, n);
    return used < 0 ? (int)used : status;
}

int blk_read(uint64_t sector, void *buffer, uint32_t sectors) { return request(TYPE_IN, sector, buffer, sectors * BLK_SECTOR, 1); }
int blk_write(uint64_t sector, const void *buffer, uint32_t sectors) { return request(TYPE_OUT, sector, buffer, sectors * BLK_SECTOR, 1); }
int blk_write_repeated(uint64_t sector, const void *buffer, uint32_t sectors, int segments)
{
    return request(TYPE_OUT, sector, buffer, sectors * BLK_SECTOR, segments);
}
int blk_flush(void) { return request(TYPE_FLUSH, 0, 0, 0, 0); }

const char *blk_status_name(int status)
{
    switch (status) {
    case BLK_S_OK: return "OK";
    case BLK_S_IOERR: return "IOERR";
    case BLK_S_UNSUPP: return "UNSUPP";
    case VIRTIO_ERR_NO_DEVICE: return "no such device";
    case VIRTIO_ERR_FEATURES: return "feature negotiation failed";
    case VIRTIO_ERR_QUEUE: return "queue setup failed";
    case VIRTIO_ERR_NEEDS_RESET: return "device needs reset";
    case VIRTIO_ERR_TOO_MANY: return "too many segments";
    default: return "unknown";
    }
}
