/* The few C library functions the kit (and the compiler) needs; no libc in a freestanding guest. */
#include "kit.h"

void *memcpy(void *destination, const void *source, size_t n)
{
    void *start = destination;
    __asm__ volatile("rep movsb" : "+D"(destination), "+S"(source), "+c"(n) : : "memory");
    return start;
}

void *memset(void *destination, int value, size_t n)
{
    void *start = destination;
    __asm__ volatile("rep stosb" : "+D"(destination), "+c"(n) : "a"(value) : "memory");
    return start;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    return n;
}
