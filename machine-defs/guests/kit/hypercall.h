/* The hypercall channel of docs/hypercalls.md (ABI 1): a request block in RAM, its address written to a port. */
#ifndef KIT_HYPERCALL_H
#define KIT_HYPERCALL_H

#include "kit.h"

#define HC_PORT 0x5650 /* hypercalls({ port }) in the definition */

/* Status codes the host returns; 0 or more is success. */
#define HC_UNKNOWN_CALL -1
#define HC_BAD_BLOCK -2
#define HC_BAD_ADDRESS -3
#define HC_BAD_LENGTH -4
#define HC_NO_SUCH_BLOB -5
#define HC_BAD_OFFSET -6

/* The ABI version, or a negative status when no channel answers. */
int64_t hc_probe(void);
int64_t hc_log(const char *text);
/* Host UTC in nanoseconds since 1970, or a negative status. */
int64_t hc_wall_clock(uint64_t *nanoseconds);
/* Copies up to length bytes of blob name from offset; returns the count or a negative status. *size gets the blob's. */
int64_t hc_read_blob(const char *name, void *buffer, uint32_t length, uint32_t offset, uint64_t *size);
/* The name of a status code, for messages. */
const char *hc_status_name(int64_t status);

#endif
