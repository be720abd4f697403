/* virtio-blk (virtio 1.x, 5.2): read, write and flush whole 512-byte sectors, one request at a time. */
#ifndef KIT_BLK_H
#define KIT_BLK_H

#include "kit.h"

#define BLK_SECTOR 512

/* Request status the device writes (0 and up), and the kit's own errors (below 0, VIRTIO_ERR_*). */
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2

/* Most data buffers in one request: the queue also carries the header and the status byte. */
#define BLK_MAX_SEGMENTS 16

int blk_init(void);
uint64_t blk_capacity(void); /* in sectors */
int blk_read_only(void);     /* the device offered VIRTIO_BLK_F_RO */
int blk_read(uint64_t sector, void *buffer, uint32_t sectors);
int blk_write(uint64_t sector, const void *buffer, uint32_t sectors);
/* Writes the same buffer segments times in a row from sector: a bulk write with one notification. */
int blk_write_repeated(uint64_t sector, const void *buffer, uint32_t sectors, int segments);
int blk_flush(void);
/* The status code's name, for messages. */
const char *blk_status_name(int status);

#endif
