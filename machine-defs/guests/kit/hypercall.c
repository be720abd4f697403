#include "hypercall.h"

#define HC_MAGIC 0x43485356u /* "VSHC" */

enum { CALL_PROBE = 0, CALL_LOG = 1, CALL_WALL_CLOCK = 2, CALL_POWER_OFF = 3, CALL_READ_BLOB = 4 };

struct request {
    uint32_t magic, call;
    uint64_t arg[5];
    int64_t status;
    uint64_t value;
} __attribute__((aligned(8)));

/* One block for every call: the kit is single-threaded. Paging is off, so its address is the physical one. */
static struct request block;

static int64_t call(uint32_t number, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
    block = (struct request){ .magic = HC_MAGIC, .call = number, .arg = { a0, a1, a2, a3, a4 } };
    /* An unclaimed port leaves the block alone: this status then says no channel answered. */
    block.status = HC_BAD_BLOCK;
    outl(HC_PORT, (uint32_t)(uintptr_t)&block);
    return block.status;
}

int64_t hc_probe(void)
{
    int64_t status = call(CALL_PROBE, 0, 0, 0, 0, 0);
    return status < 0 ? status : (int64_t)block.value;
}

int64_t hc_log(const char *text) { return call(CALL_LOG, (uintptr_t)text, strlen(text), 0, 0, 0); }

int64_t hc_wall_clock(uint64_t *nanoseconds)
{
    int64_t status = call(CALL_WALL_CLOCK, 0, 0, 0, 0, 0);
    if (status >= 0) *nanoseconds = block.value;
    return status;
}

int64_t hc_read_blob(const char *name, void *buffer, uint32_t length, uint32_t offset, uint64_t *size)
{
    int64_t status = call(CALL_READ_BLOB, (uintptr_t)name, strlen(name), (uintptr_t)buffer, length, offset);
    if (status >= 0 && size) *size = block.value;
    return status;
}

void kit_power_off(int status)
{
    call(CALL_POWER_OFF, (uint32_t)status, 0, 0, 0, 0);
    for (;;) __asm__ volatile("hlt");
}

const char *hc_status_name(int64_t status)
{
    switch (status) {
    case HC_UNKNOWN_CALL: return "UNKNOWN_CALL";
    case HC_BAD_BLOCK: return "BAD_BLOCK";
    case HC_BAD_ADDRESS: return "BAD_ADDRESS";
    case HC_BAD_LENGTH: return "BAD_LENGTH";
    case HC_NO_SUCH_BLOB: return "NO_SUCH_BLOB";
    case HC_BAD_OFFSET: return "BAD_OFFSET";
    default: return status >= 0 ? "OK" : "unknown status";
    }
}
