/* The driver side of virtio 1.x over virtio-mmio (version 2): finding a device, feature negotiation and split
   virtqueues. The kit keeps one request in flight per queue and polls for its completion, so a queue needs no
   free-descriptor list and the kit no interrupt handler. */
#ifndef KIT_VIRTIO_H
#define KIT_VIRTIO_H

#include "kit.h"

/* Where the kit looks for devices: KIT_MMIO_SLOTS windows of 0x200 bytes from KIT_MMIO_BASE (the definition's
   virtioConsole/virtioBlk 'address' settings). */
#define KIT_MMIO_BASE 0xd0000000u
#define KIT_MMIO_SLOTS 16
#define VIRTIO_MMIO_WINDOW 0x200u

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3

#define VIRTIO_F_VERSION_1 (1ull << 32)

#define KIT_QUEUE_SIZE 32

/* Errors of the kit's own virtio layer (device status codes are 0 and up). */
#define VIRTIO_ERR_NO_DEVICE -1
#define VIRTIO_ERR_FEATURES -2
#define VIRTIO_ERR_QUEUE -3
#define VIRTIO_ERR_NEEDS_RESET -4
#define VIRTIO_ERR_TOO_MANY -5

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

/* One queue's three areas, with the alignment the spec asks of each (desc 16, avail 2, used 4). */
struct virtq_area {
    struct virtq_desc desc[KIT_QUEUE_SIZE];
    struct {
        uint16_t flags, idx;
        uint16_t ring[KIT_QUEUE_SIZE];
        uint16_t used_event;
    } avail;
    struct {
        uint16_t flags, idx;
        struct { uint32_t id, len; } ring[KIT_QUEUE_SIZE];
        uint16_t avail_event;
    } used __attribute__((aligned(4)));
} __attribute__((aligned(16)));

struct virtio_dev {
    uintptr_t base;
    uint64_t features; /* negotiated */
};

struct virtq {
    struct virtio_dev *dev;
    uint16_t index;
    uint16_t avail_idx;
    struct virtq_area *area;
};

/* One buffer of a request; device-writable ones must follow the readable ones. */
struct virtq_buf {
    const void *data;
    uint32_t length;
    int writable;
};

/* Finds the first device of this type; 0 or VIRTIO_ERR_NO_DEVICE. */
int virtio_find(uint32_t device_id, struct virtio_dev *dev);
/* Resets the device and negotiates: VERSION_1 plus those of wanted the device offers. */
int virtio_negotiate(struct virtio_dev *dev, uint64_t wanted);
int virtq_setup(struct virtq *q, struct virtio_dev *dev, uint16_t index, struct virtq_area *area);
void virtio_driver_ok(struct virtio_dev *dev);
/* Submits one chain of n buffers, notifies and waits until the device has used it; returns the bytes it wrote into
   the chain, or a negative VIRTIO_ERR_*. */
int64_t virtq_transfer(struct virtq *q, const struct virtq_buf *bufs, int n);

uint32_t virtio_config_read32(struct virtio_dev *dev, uint32_t offset);
uint8_t virtio_status(struct virtio_dev *dev);

#endif
