/* Test firmware for QEMU's mps2-an386 (Cortex-M4): classifies the images linked into it
   (images.bin, turned into an object by objcopy) with the exported classifier (mdpn.c) and
   prints, over semihosting, one line per image: "image I class C scores S0 S1 ...", as the host
   prints them. Then the stack one mdpn_classify call used (measured by painting it) and the
   SysTick ticks the classifications took, with those of a loop of known length: under QEMU's
   -icount a tick is a fixed number of instructions, which gives the instructions per image (not
   cycles: QEMU does not model the pipeline or memory wait states). */
#include <stdint.h>
#include <unistd.h>

#include "mdpn.h"

extern const uint8_t _binary_images_bin_start[], _binary_images_bin_end[];

/* SysTick, the core's 24-bit down-counter, on the processor clock. */
#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)

/* Words of stack painted below main's frame, and the pattern. */
#define PAINTED 8192
#define PAINT 0xA5C3A5C3u

static void put(const char *s) {
    const char *e = s;
    while (*e) {
        e++;
    }
    (void)write(1, s, (size_t)(e - s));
}

/* A signed decimal number. */
static void put_int(int64_t v) {
    char buf[24];
    int i = 23;
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        buf[--i] = '-';
    }
    put(buf + i);
}

static uint32_t ticks(void) {
    return SYST_CVR;
}

/* A loop of exactly 2 * n + 2 instructions (subs, bne per turn; mov and the last fall-through),
   to tell how many instructions one SysTick tick is under -icount. */
static uint32_t time_known_loop(uint32_t n) {
    uint32_t start = ticks(), end;
    __asm__ volatile("mov r0, %0\n1: subs r0, r0, #1\n bne 1b" : : "r"(n) : "r0", "cc");
    end = ticks();
    return (start - end) & 0xFFFFFF;
}

int main(void) {
    const size_t count = (size_t)(_binary_images_bin_end - _binary_images_bin_start) / MDPN_IMAGE_LEN;
    volatile uint32_t *top, *p;
    uint64_t total = 0;
    uint32_t used = 0, loop_ticks;
    int32_t scores[MDPN_CLASSES];
    size_t i;
    int k;

    /* Paint the stack below main's frame, up to the stack pointer. */
    __asm__ volatile("mov %0, sp" : "=r"(top));
    SYST_RVR = 0xFFFFFF;
    SYST_CVR = 0;
    SYST_CSR = 5; /* enabled, processor clock */
    for (p = top - PAINTED; p < top; p++) {
        *p = PAINT;
    }
    /* The stack of one classification, alone. */
    (void)mdpn_classify(_binary_images_bin_start, scores);
    for (p = top - PAINTED; p < top && *p == PAINT; p++) {
    }
    used = (uint32_t)(top - p) * 4;
    for (i = 0; i < count; i++) {
        uint32_t start = ticks(), end;
        int class = mdpn_classify(_binary_images_bin_start + i * MDPN_IMAGE_LEN, scores);
        end = ticks();
        total += (start - end) & 0xFFFFFF;
        put("image ");
        put_int((int64_t)i);
        put(" class ");
        put_int(class);
        put(" scores");
        for (k = 0; k < MDPN_CLASSES; k++) {
            put(" ");
            put_int(scores[k]);
        }
        put("\n");
    }
    loop_ticks = time_known_loop(1000000);
    put("images ");
    put_int((int64_t)count);
    put("\nstack bytes ");
    put_int(used);
    put("\nticks ");
    put_int((int64_t)total);
    put("\nknown loop 2000002 instructions ticks ");
    put_int(loop_ticks);
    put("\n");
    return count > 0 && used < PAINTED * 4 ? 0 : 1;
}
