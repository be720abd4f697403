/* virtio-console (virtio 1.x, 5.3): the kit's console, transmit only. */
#ifndef KIT_CONSOLE_H
#define KIT_CONSOLE_H

#include "kit.h"

/* 0, or a negative VIRTIO_ERR_*; until it succeeds console_write drops what it is given. */
int console_init(void);
/* Sends length bytes; 0 or a negative VIRTIO_ERR_*. */
int console_write(const void *data, uint32_t length);
/* Most buffers in one transmission. */
#define CONSOLE_MAX_BUFFERS 16

/* Sends the same buffer times times in one chain (at most CONSOLE_MAX_BUFFERS): a bulk write, one notification. */
int console_write_repeated(const void *data, uint32_t length, int times);

#endif
