#include "console.h"
#include "virtio.h"

enum { TRANSMITQ0 = 1 };

static struct virtio_dev device;
static struct virtq transmit;
static struct virtq_area transmit_area __attribute__((aligned(4096)));
static int ready;

int console_init(void)
{
    int error = virtio_find(VIRTIO_ID_CONSOLE, &device);
    if (!error) error = virtio_negotiate(&device, 0);
    if (!error) error = virtq_setup(&transmit, &device, TRANSMITQ0, &transmit_area);
    if (error) return error;
    virtio_driver_ok(&device);
    ready = 1;
    return 0;
}

int console_write_repeated(const void *data, uint32_t length, int times)
{
    if (!ready || length == 0) return 0;
    struct virtq_buf bufs[CONSOLE_MAX_BUFFERS];
    if (times < 1 || times > CONSOLE_MAX_BUFFERS) return VIRTIO_ERR_TOO_MANY;
    for (int i = 0; i < times; i++) bufs[i] = (struct virtq_buf){ data, length, 0 };
    int64_t result = virtq_transfer(&transmit, bufs, times);
    return result < 0 ? (int)result : 0;
}

int console_write(const void *data, uint32_t length) { return console_write_repeated(data, length, 1); }
