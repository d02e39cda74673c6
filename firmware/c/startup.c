/* The Cortex-M4 vector table and reset handler of the test firmware: copy .data to RAM, then
   newlib's semihosting start-up (rdimon's _start) zeroes .bss and calls main and exit. */
#include <stdint.h>
#include <unistd.h>

extern uint32_t __data_start__, __data_end__, __data_load__, __stack;
extern void _start(void);

void reset_handler(void);

/* A fault ends the program with an exit status of its own, so a test sees it instead of a hang. */
static void fault_handler(void) {
    _exit(70);
}

/* The initial stack pointer, then the handlers from reset to usage fault. */
__attribute__((section(".vectors"), used)) static const struct {
    uint32_t *stack;
    void (*handlers[6])(void);
} vectors = {&__stack, {reset_handler, fault_handler, fault_handler, fault_handler,
                        fault_handler, fault_handler}};

void reset_handler(void) {
    uint32_t *from = &__data_load__, *to = &__data_start__;
    while (to < &__data_end__) {
        *to++ = *from++;
    }
    _start();
}
