/* The guest kit's program: an adapted guest that carries its own drivers. It greets through virtio-console, reads
   its settings from the definition's blob 'kit-config' through the hypercall channel, then does what the 'mode'
   setting says and powers off through the channel with a status:
     selftest  writes a known pattern to 'count' sectors from 'sector' of the virtio-blk disk, flushes, reads them
               back and compares; powers off with 'status' (42) when all matched
     console   sends 'bytes' bytes of text to the console (a benchmark)
     disk      writes 'bytes' bytes from 'sector', then flushes (a benchmark)
     rounds    'rounds' rounds over 'count' sectors from 'sector': each checks that the disk holds the previous
               round's pattern (zeros before the first), writes its own a sector per request, flushes, reads back
               and compares; a checkpoint taken mid-write and restored must keep disk and queues in step, or a
               check fails. Powers off with 'status' when every round matched. With 'hold' set, round 'hold'
               stops half-way through its writes, says so and waits 'holdms' ms by the host's clock: a test's
               checkpoint then lands there
     idle      greets and then waits, powered on, until the host turns it off
   The blob is text, "key=value" pairs separated by spaces or line breaks, e.g. "mode=selftest sector=8 count=4". */
#include "blk.h"
#include "console.h"
#include "hypercall.h"
#include "kit.h"

/* Power-off statuses when something failed; success is the configured 'status'. */
enum { EXIT_NO_CONSOLE = 10, EXIT_NO_DISK = 11, EXIT_DISK_ERROR = 12, EXIT_MISMATCH = 13, EXIT_BAD_CONFIG = 14 };

#define BUFFER_SIZE (64 * 1024)
#define BUFFER_SECTORS (BUFFER_SIZE / BLK_SECTOR)

static uint8_t buffer[BUFFER_SIZE] __attribute__((aligned(4096)));
static uint8_t readback[BUFFER_SIZE] __attribute__((aligned(4096)));

struct config {
    char mode[16];
    uint32_t sector, count, seed, rounds, hold, holdms;
    uint64_t bytes;
    int status;
};

/* The pattern byte at a byte offset of the disk. The tests compute the same on the host, so keep them in step:
   (seed + offset * 31 + (offset / 512) * 7) mod 256. The sector term makes every sector's bytes different. */
static uint8_t pattern_byte(uint32_t offset, uint32_t seed) { return (uint8_t)(seed + offset * 31u + (offset >> 9) * 7u); }

/* Says what went wrong on the console and in the host's log, and powers off with status. */
static void __attribute__((noreturn)) fail(int status, const char *format, ...)
{
    char line[256];
    va_list args;
    va_start(args, format);
    kit_vsnprintf(line, sizeof line, format, args);
    va_end(args);
    kit_printf("kit: %s\n", line);
    hc_log(line);
    kit_power_off(status);
}

static int parse_number(const char *text, uint64_t *value)
{
    uint64_t v = 0;
    int base = 10;
    if (text[0] == '0' && text[1] == 'x') {
        base = 16;
        text += 2;
    }
    if (!*text) return -1;
    for (; *text; text++) {
        int d = *text >= '0' && *text <= '9' ? *text - '0'
              : base == 16 && *text >= 'a' && *text <= 'f' ? *text - 'a' + 10
              : -1;
        if (d < 0) return -1;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *value = v;
    return 0;
}

/* Applies one "key=value"; 0, or -1 for a key or value the kit does not know. */
static int apply(struct config *c, const char *key, const char *value)
{
    uint64_t n = 0;
    if (!memcmp(key, "mode", 5)) {
        if (strlen(value) >= sizeof c->mode) return -1;
        memcpy(c->mode, value, strlen(value) + 1);
        return 0;
    }
    if (parse_number(value, &n)) return -1;
    if (!memcmp(key, "sector", 7)) c->sector = (uint32_t)n;
    else if (!memcmp(key, "count", 6)) c->count = (uint32_t)n;
    else if (!memcmp(key, "seed", 5)) c->seed = (uint32_t)n;
    else if (!memcmp(key, "bytes", 6)) c->bytes = n;
    else if (!memcmp(key, "rounds", 7)) c->rounds = (uint32_t)n;
    else if (!memcmp(key, "hold", 5)) c->hold = (uint32_t)n;
    else if (!memcmp(key, "holdms", 7)) c->holdms = (uint32_t)n;
    else if (!memcmp(key, "status", 7)) c->status = (int)n;
    else return -1;
    return 0;
}

static void read_config(struct config *c)
{
    static char text[1024];
    uint64_t size = 0;
    int64_t got = hc_read_blob("kit-config", text, sizeof text - 1, 0, &size);
    if (got < 0) {
        kit_printf("kit: blob 'kit-config': error %d (%s); using defaults\n", (int)got, hc_status_name(got));
        return;
    }
    text[got] = 0;
    /* Splits the text into words in place and applies each. */
    for (char *p = text; *p;) {
        while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
        if (!*p) break;
        char *word = p, *equals = 0;
        while (*p && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            if (*p == '=' && !equals) equals = p;
            p++;
        }
        if (*p) *p++ = 0;
        if (!equals) fail(EXIT_BAD_CONFIG, "kit-config: '%s' is not key=value", word);
        *equals = 0;
        if (apply(c, word, equals + 1)) fail(EXIT_BAD_CONFIG, "kit-config: bad setting %s=%s", word, equals + 1);
    }
}

static void disk_up(void)
{
    int error = blk_init();
    if (error) fail(EXIT_NO_DISK, "no virtio-blk disk: error %d (%s)", error, blk_status_name(error));
    kit_printf("kit: disk of %llu sectors, %s\n", (unsigned long long)blk_capacity(), blk_read_only() ? "read-only" : "read-write");
}

static void selftest(const struct config *c)
{
    if (c->count == 0 || c->count > BUFFER_SECTORS) fail(EXIT_BAD_CONFIG, "count=%u: must be 1 to %d", c->count, BUFFER_SECTORS);
    disk_up();
    uint32_t bytes = c->count * BLK_SECTOR, first = c->sector * BLK_SECTOR;
    for (uint32_t i = 0; i < bytes; i++) buffer[i] = pattern_byte(first + i, c->seed);
    /* A request per sector, so that the disk sees several writes, not one. */
    for (uint32_t s = 0; s < c->count; s++) {
        int status = blk_write(c->sector + s, buffer + s * BLK_SECTOR, 1);
        if (status) fail(EXIT_DISK_ERROR, "write of sector %u failed: status %d (%s)", c->sector + s, status, blk_status_name(status));
    }
    int status = blk_flush();
    if (status) fail(EXIT_DISK_ERROR, "flush failed: status %d (%s)", status, blk_status_name(status));
    status = blk_read(c->sector, readback, c->count);
    if (status) fail(EXIT_DISK_ERROR, "read of %u sectors from sector %u failed: status %d (%s)", c->count, c->sector, status, blk_status_name(status));
    for (uint32_t i = 0; i < bytes; i++)
        if (readback[i] != buffer[i])
            fail(EXIT_MISMATCH, "byte %u of sector %u reads 0x%x, not the 0x%x written", i % BLK_SECTOR, c->sector + i / BLK_SECTOR, readback[i], buffer[i]);
    kit_printf("kit: wrote, flushed and read back %u sectors from sector %u: pattern verified\n", c->count, c->sector);
    hc_log("kit: disk pattern verified");
}

/* Fails unless the c->count sectors from c->sector read as the pattern of seed, or as zeros when zero is set. */
static void expect(const struct config *c, uint32_t seed, int zero, uint32_t round, const char *when)
{
    uint32_t bytes = c->count * BLK_SECTOR, first = c->sector * BLK_SECTOR;
    int status = blk_read(c->sector, readback, c->count);
    if (status) fail(EXIT_DISK_ERROR, "round %u: read failed: status %d (%s)", round, status, blk_status_name(status));
    for (uint32_t i = 0; i < bytes; i++) {
        uint8_t want = zero ? 0 : pattern_byte(first + i, seed);
        if (readback[i] != want)
            fail(EXIT_MISMATCH, "round %u, %s: byte %u of sector %u reads 0x%x, not 0x%x", round, when, i % BLK_SECTOR,
                 c->sector + i / BLK_SECTOR, readback[i], want);
    }
}

/* Says where it is and waits c->holdms ms of the host's time. A machine restored from a checkpoint taken meanwhile
   finds that time long past and goes straight on. */
static void hold(const struct config *c, uint32_t round, uint32_t written)
{
    uint64_t start = 0, now = 0;
    kit_printf("kit: round %u: holding after %u of %u sectors written\n", round, written, c->count);
    hc_wall_clock(&start);
    do hc_wall_clock(&now);
    while (now - start < (uint64_t)c->holdms * 1000000u);
}

static void rounds(const struct config *c)
{
    if (c->count == 0 || c->count > BUFFER_SECTORS) fail(EXIT_BAD_CONFIG, "count=%u: must be 1 to %d", c->count, BUFFER_SECTORS);
    disk_up();
    uint32_t bytes = c->count * BLK_SECTOR, first = c->sector * BLK_SECTOR;
    for (uint32_t round = 0; round < c->rounds; round++) {
        uint32_t seed = c->seed + round;
        expect(c, seed - 1, round == 0, round, "before writing");
        for (uint32_t i = 0; i < bytes; i++) buffer[i] = pattern_byte(first + i, seed);
        for (uint32_t s = 0; s < c->count; s++) {
            if (round == c->hold && s == c->count / 2) hold(c, round, s);
            int status = blk_write(c->sector + s, buffer + s * BLK_SECTOR, 1);
            if (status) fail(EXIT_DISK_ERROR, "round %u: write of sector %u failed: status %d (%s)", round, c->sector + s, status, blk_status_name(status));
        }
        int status = blk_flush();
        if (status) fail(EXIT_DISK_ERROR, "round %u: flush failed: status %d (%s)", round, status, blk_status_name(status));
        expect(c, seed, 0, round, "read back");
        kit_printf("kit: round %u verified\n", round);
    }
    kit_printf("kit: %u rounds of %u sectors written and read back: check passed\n", c->rounds, c->count);
    hc_log("kit: rounds check passed");
}

/* Sends c->bytes of text lines, a MiB per notification. */
static void console_bench(const struct config *c)
{
    static const char line[] = "kit console bench: the quick brown fox jumps over the lazy dog\n";
    for (uint32_t i = 0; i < BUFFER_SIZE; i++) buffer[i] = (uint8_t)line[i % (sizeof line - 1)];
    uint64_t left = c->bytes;
    while (left) {
        int times = left >= (uint64_t)BUFFER_SIZE * CONSOLE_MAX_BUFFERS ? CONSOLE_MAX_BUFFERS : left >= BUFFER_SIZE ? (int)(left / BUFFER_SIZE) : 1;
        uint32_t length = left >= BUFFER_SIZE ? BUFFER_SIZE : (uint32_t)left;
        int error = console_write_repeated(buffer, length, times);
        if (error) fail(EXIT_NO_CONSOLE, "console write failed: error %d", error);
        left -= (uint64_t)length * (uint32_t)times;
    }
    kit_printf("\nkit: console bench sent %llu bytes\n", (unsigned long long)c->bytes);
}

/* Writes c->bytes (whole sectors) from c->sector, a MiB per request, then flushes. */
static void disk_bench(const struct config *c)
{
    disk_up();
    if (c->bytes % BLK_SECTOR) fail(EXIT_BAD_CONFIG, "bytes=%llu: must be whole sectors", (unsigned long long)c->bytes);
    for (uint32_t i = 0; i < BUFFER_SIZE; i++) buffer[i] = pattern_byte(i, c->seed);
    uint64_t sector = c->sector, left = c->bytes / BLK_SECTOR;
    while (left) {
        int segments = left >= (uint64_t)BUFFER_SECTORS * BLK_MAX_SEGMENTS ? BLK_MAX_SEGMENTS : left >= BUFFER_SECTORS ? (int)(left / BUFFER_SECTORS) : 1;
        uint32_t sectors = left >= BUFFER_SECTORS ? BUFFER_SECTORS : (uint32_t)left;
        int status = blk_write_repeated(sector, buffer, sectors, segments);
        if (status) fail(EXIT_DISK_ERROR, "write at sector %llu failed: status %d (%s)", (unsigned long long)sector, status, blk_status_name(status));
        sector += (uint64_t)sectors * (uint32_t)segments;
        left -= (uint64_t)sectors * (uint32_t)segments;
    }
    int status = blk_flush();
    if (status) fail(EXIT_DISK_ERROR, "flush failed: status %d (%s)", status, blk_status_name(status));
    kit_printf("kit: disk bench wrote %llu bytes\n", (unsigned long long)c->bytes);
}

void kit_main(void)
{
    int error = console_init();
    if (error) fail(EXIT_NO_CONSOLE, "no virtio-console: error %d", error);
    kit_printf("Hello from the VirtShell guest kit: C, virtio-console, virtio-blk and hypercalls.\n");

    int64_t abi = hc_probe();
    if (abi < 0) fail(EXIT_BAD_CONFIG, "no hypercall channel: error %d", (int)abi);
    uint64_t now = 0;
    hc_wall_clock(&now);
    kit_printf("kit: hypercall ABI %d, host clock %llu ns since 1970\n", (int)abi, (unsigned long long)now);

    struct config c = { .mode = "selftest", .sector = 8, .count = 4, .seed = 0x5a, .rounds = 10, .hold = 0xffffffffu, .status = 42 };
    read_config(&c);
    kit_printf("kit: mode=%s sector=%u count=%u seed=%u rounds=%u hold=%d bytes=%llu status=%d\n", c.mode, c.sector, c.count,
               c.seed, c.rounds, (int)c.hold, (unsigned long long)c.bytes, c.status);

    if (!memcmp(c.mode, "selftest", 9)) selftest(&c);
    else if (!memcmp(c.mode, "console", 8)) console_bench(&c);
    else if (!memcmp(c.mode, "disk", 5)) disk_bench(&c);
    else if (!memcmp(c.mode, "rounds", 7)) rounds(&c);
    else if (!memcmp(c.mode, "idle", 5)) {
        kit_printf("kit: idle until turned off\n");
        for (;;) __asm__ volatile("hlt");
    } else fail(EXIT_BAD_CONFIG, "mode=%s: not selftest, console, disk, rounds or idle", c.mode);

    kit_printf("kit: powering off with status %d\n", c.status);
    kit_power_off(c.status);
}
