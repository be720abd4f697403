/* What every part of the guest kit shares: fixed-width types, device register access and the C library bits the
   compiler may call on its own (it emits memcpy/memset for struct copies even in a freestanding build). */
#ifndef KIT_H
#define KIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Compiler barrier: on x86 stores are not reordered with other stores nor loads with loads, so ring updates need
   only keep the compiler from moving them. */
#define barrier() __asm__ volatile("" ::: "memory")

static inline uint32_t mmio_read32(uintptr_t address) { return *(volatile uint32_t *)address; }
static inline uint8_t mmio_read8(uintptr_t address) { return *(volatile uint8_t *)address; }
static inline void mmio_write32(uintptr_t address, uint32_t value) { *(volatile uint32_t *)address = value; }

static inline void outb(uint16_t port, uint8_t value) { __asm__ volatile("outb %0, %w1" ::"a"(value), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t value) { __asm__ volatile("outl %0, %w1" ::"a"(value), "Nd"(port) : "memory"); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t value;
    __asm__ volatile("inb %w1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

void *memcpy(void *destination, const void *source, size_t n);
void *memset(void *destination, int value, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Formats into the console: %s %c %d %u %x with an optional 0 flag, width and l/ll length. */
int kit_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* Formats into buffer (always terminated); returns the length written. */
int kit_snprintf(char *buffer, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));
int kit_vsnprintf(char *buffer, size_t size, const char *format, va_list args);

/* Never returns: powers off through the hypercall channel, or halts if the host ignores the call. */
void kit_power_off(int status) __attribute__((noreturn));

#endif
