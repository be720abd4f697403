/* A small printf: enough for the kit's messages. 64-bit numbers are converted without 64-bit division, which would
   need libgcc's __udivdi3 (not linked: the build has no 32-bit libgcc). */
#include "console.h"
#include "kit.h"

struct sink {
    char *buffer;
    size_t size, length;
};

static void put(struct sink *s, char c)
{
    if (s->length + 1 < s->size) s->buffer[s->length] = c;
    s->length++;
}

/* Digits of value in base 10 or 16, most significant first, into digits; returns how many. */
static int to_digits(uint64_t value, int base, char *digits)
{
    static const uint64_t powers[] = {
        10000000000000000000ull, 1000000000000000000ull, 100000000000000000ull, 10000000000000000ull,
        1000000000000000ull, 100000000000000ull, 10000000000000ull, 1000000000000ull, 100000000000ull,
        10000000000ull, 1000000000ull, 100000000ull, 10000000ull, 1000000ull, 100000ull, 10000ull, 1000ull,
        100ull, 10ull, 1ull,
    };
    int n = 0;
    if (base == 16) {
        for (int shift = 60; shift >= 0; shift -= 4) {
            int d = (int)((value >> shift) & 0xf);
            if (d || n || shift == 0) digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        }
        return n;
    }
    for (size_t i = 0; i < sizeof powers / sizeof powers[0]; i++) {
        int d = 0;
        while (value >= powers[i]) {
            value -= powers[i];
            d++;
        }
        if (d || n || powers[i] == 1) digits[n++] = (char)('0' + d);
    }
    return n;
}

int kit_vsnprintf(char *buffer, size_t size, const char *format, va_list args)
{
    struct sink s = { buffer, size, 0 };
    for (const char *p = format; *p; p++) {
        if (*p != '%') {
            put(&s, *p);
            continue;
        }
        p++;
        char pad = ' ';
        if (*p == '0') {
            pad = '0';
            p++;
        }
        int width = 0;
        while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
        int longs = 0;
        while (*p == 'l') {
            longs++;
            p++;
        }
        char digits[24];
        int n = 0;
        int negative = 0;
        const char *text = digits;
        switch (*p) {
        case 'd': {
            int64_t v = longs >= 2 ? va_arg(args, int64_t) : longs ? va_arg(args, long) : va_arg(args, int);
            negative = v < 0;
            n = to_digits(negative ? 0 - (uint64_t)v : (uint64_t)v, 10, digits);
            break;
        }
        case 'u':
        case 'x': {
            uint64_t v = longs >= 2 ? va_arg(args, uint64_t) : longs ? va_arg(args, unsigned long) : va_arg(args, unsigned);
            n = to_digits(v, *p == 'x' ? 16 : 10, digits);
            break;
        }
        case 'c':
            digits[0] = (char)va_arg(args, int);
            n = 1;
            break;
        case 's':
            text = va_arg(args, const char *);
            if (!text) text = "(null)";
            n = (int)strlen(text);
            break;
        case '%':
            digits[0] = '%';
            n = 1;
            break;
        default: /* an unknown conversion is printed as written */
            put(&s, '%');
            if (!*p) p--;
            else put(&s, *p);
            continue;
        }
        if (negative && pad == '0') put(&s, '-');
        for (int i = n + negative; i < width; i++) put(&s, pad);
        if (negative && pad == ' ') put(&s, '-');
        for (int i = 0; i < n; i++) put(&s, text[i]);
    }
    if (size) buffer[s.length < size ? s.length : size - 1] = 0;
    return (int)(s.length < size ? s.length : size - 1);
}

int kit_snprintf(char *buffer, size_t size, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int n = kit_vsnprintf(buffer, size, format, args);
    va_end(args);
    return n;
}

/* One console transmission per call, so a line arrives whole. */
int kit_printf(const char *format, ...)
{
    char line[512];
    va_list args;
    va_start(args, format);
    int n = kit_vsnprintf(line, sizeof line, format, args);
    va_end(args);
    console_write(line, (uint32_t)n);
    return n;
}
