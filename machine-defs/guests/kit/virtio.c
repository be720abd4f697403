#include "virtio.h"

/* virtio-mmio version 2 registers (virtio 1.x, 4.2.2). */
enum {
    REG_MAGIC = 0x000, REG_VERSION = 0x004, REG_DEVICE_ID = 0x008,
    REG_DEVICE_FEATURES = 0x010, REG_DEVICE_FEATURES_SEL = 0x014,
    REG_DRIVER_FEATURES = 0x020, REG_DRIVER_FEATURES_SEL = 0x024,
    REG_QUEUE_SEL = 0x030, REG_QUEUE_NUM_MAX = 0x034, REG_QUEUE_NUM = 0x038, REG_QUEUE_READY = 0x044,
    REG_QUEUE_NOTIFY = 0x050, REG_STATUS = 0x070,
    REG_QUEUE_DESC_LOW = 0x080, REG_QUEUE_DESC_HIGH = 0x084, REG_QUEUE_DRIVER_LOW = 0x090,
    REG_QUEUE_DRIVER_HIGH = 0x094, REG_QUEUE_DEVICE_LOW = 0x0a0, REG_QUEUE_DEVICE_HIGH = 0x0a4,
    REG_CONFIG = 0x100,
};

enum { STATUS_ACKNOWLEDGE = 1, STATUS_DRIVER = 2, STATUS_DRIVER_OK = 4, STATUS_FEATURES_OK = 8, STATUS_NEEDS_RESET = 64 };
enum { DESC_NEXT = 1, DESC_WRITE = 2 };

#define MMIO_MAGIC 0x74726976u /* "virt" */

static uint32_t reg(struct virtio_dev *dev, uint32_t offset) { return mmio_read32(dev->base + offset); }
static void set_reg(struct virtio_dev *dev, uint32_t offset, uint32_t value) { mmio_write32(dev->base + offset, value); }

int virtio_find(uint32_t device_id, struct virtio_dev *dev)
{
    for (uint32_t slot = 0; slot < KIT_MMIO_SLOTS; slot++) {
        uintptr_t base = KIT_MMIO_BASE + slot * VIRTIO_MMIO_WINDOW;
        /* Device ID 0 is a placeholder window with no device behind it. */
        if (mmio_read32(base + REG_MAGIC) == MMIO_MAGIC && mmio_read32(base + REG_VERSION) == 2 &&
            mmio_read32(base + REG_DEVICE_ID) == device_id) {
            *dev = (struct virtio_dev){ .base = base };
            return 0;
        }
    }
    return VIRTIO_ERR_NO_DEVICE;
}

int virtio_negotiate(struct virtio_dev *dev, uint64_t wanted)
{
    set_reg(dev, REG_STATUS, 0);
    set_reg(dev, REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    uint64_t offered = 0;
    for (uint32_t word = 0; word < 2; word++) {
        set_reg(dev, REG_DEVICE_FEATURES_SEL, word);
        offered |= (uint64_t)reg(dev, REG_DEVICE_FEATURES) << (32 * word);
    }
    if (!(offered & VIRTIO_F_VERSION_1)) return VIRTIO_ERR_FEATURES;
    dev->features = (wanted & offered) | VIRTIO_F_VERSION_1;
    for (uint32_t word = 0; word < 2; word++) {
        set_reg(dev, REG_DRIVER_FEATURES_SEL, word);
        set_reg(dev, REG_DRIVER_FEATURES, (uint32_t)(dev->features >> (32 * word)));
    }
    set_reg(dev, REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    /* The device clears FEATURES_OK again if it cannot work with what was accepted. */
    return reg(dev, REG_STATUS) & STATUS_FEATURES_OK ? 0 : VIRTIO_ERR_FEATURES;
}

int virtq_setup(struct virtq *q, struct virtio_dev *dev, uint16_t index, struct virtq_area *area)
{
    memset(area, 0, sizeof *area);
    *q = (struct virtq){ .dev = dev, .index = index, .area = area };
    set_reg(dev, REG_QUEUE_SEL, index);
    if (reg(dev, REG_QUEUE_READY) || reg(dev, REG_QUEUE_NUM_MAX) < KIT_QUEUE_SIZE) return VIRTIO_ERR_QUEUE;
    set_reg(dev, REG_QUEUE_NUM, KIT_QUEUE_SIZE);
    set_reg(dev, REG_QUEUE_DESC_LOW, (uint32_t)(uintptr_t)area->desc);
    set_reg(dev, REG_QUEUE_DESC_HIGH, 0);
    set_reg(dev, REG_QUEUE_DRIVER_LOW, (uint32_t)(uintptr_t)&area->avail);
    set_reg(dev, REG_QUEUE_DRIVER_HIGH, 0);
    set_reg(dev, REG_QUEUE_DEVICE_LOW, (uint32_t)(uintptr_t)&area->used);
    set_reg(dev, REG_QUEUE_DEVICE_HIGH, 0);
    set_reg(dev, REG_QUEUE_READY, 1);
    return reg(dev, REG_QUEUE_READY) ? 0 : VIRTIO_ERR_QUEUE;
}

void virtio_driver_ok(struct virtio_dev *dev)
{
    set_reg(dev, REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
}

uint8_t virtio_status(struct virtio_dev *dev) { return (uint8_t)reg(dev, REG_STATUS); }

uint32_t virtio_config_read32(struct virtio_dev *dev, uint32_t offset) { return reg(dev, REG_CONFIG + offset); }

int64_t virtq_transfer(struct virtq *q, const struct virtq_buf *bufs, int n)
{
    if (n < 1 || n > KIT_QUEUE_SIZE) return VIRTIO_ERR_TOO_MANY;
    struct virtq_area *a = q->area;
    /* One chain in flight at a time: it always starts at descriptor 0. */
    for (int i = 0; i < n; i++) {
        a->desc[i] = (struct virtq_desc){
            .addr = (uintptr_t)bufs[i].data,
            .len = bufs[i].length,
            .flags = (uint16_t)((i + 1 < n ? DESC_NEXT : 0) | (bufs[i].writable ? DESC_WRITE : 0)),
            .next = (uint16_t)(i + 1 < n ? i + 1 : 0),
        };
    }
    a->avail.ring[q->avail_idx % KIT_QUEUE_SIZE] = 0;
    barrier(); /* the ring entry before the index that publishes it */
    q->avail_idx++;
    *(volatile uint16_t *)&a->avail.idx = q->avail_idx;
    barrier();
    set_reg(q->dev, REG_QUEUE_NOTIFY, q->index);
    /* A device that found the chain malformed never uses it; it sets NEEDS_RESET instead. Look now and then. */
    for (uint32_t spins = 0; *(volatile uint16_t *)&a->used.idx != q->avail_idx; spins++) {
        if ((spins & 0xffff) == 0xffff && (virtio_status(q->dev) & STATUS_NEEDS_RESET)) return VIRTIO_ERR_NEEDS_RESET;
        __asm__ volatile("pause");
    }
    barrier();
    return a->used.ring[(uint16_t)(q->avail_idx - 1) % KIT_QUEUE_SIZE].len;
}
