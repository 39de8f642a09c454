/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal Cortex-M start-up: vector table, .data copy, .bss zero, FPU enable, main(), exit.
 * Shared by every board; the memory map comes from the board's linker script. */
#include <stdint.h>

#include "semihost.h"

extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end, __stack_top;
extern int main(void);

void Reset_Handler(void) __attribute__((noreturn));
void Fault_Handler(void) __attribute__((noreturn));
void Default_Handler(void) __attribute__((noreturn));

void Reset_Handler(void) {
  const uint32_t* src = &__data_load;
  /* The linker-script symbols bound one section each: comparing them is how the section is walked. */
  /* cppcheck-suppress comparePointers */
  for (uint32_t* dst = &__data_start; dst < &__data_end;) { *dst++ = *src++; }
  /* cppcheck-suppress comparePointers */
  for (uint32_t* dst = &__bss_start; dst < &__bss_end;) { *dst++ = 0u; }
#if defined(__ARM_FP)
  /* CPACR: full access to CP10 and CP11 before the first floating-point instruction. */
  *(volatile uint32_t*)0xE000ED88u |= (0xFu << 20);
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  semihost_exit(main());
}

void Fault_Handler(void) {
  semihost_write0("\nFAULT: hard fault / NMI / unexpected exception\n");
  semihost_exit(3);
}

void Default_Handler(void) {
  semihost_write0("\nFAULT: unexpected interrupt\n");
  semihost_exit(3);
}

typedef void (*vector_t)(void);

/* Core exceptions only: the firmware uses no peripheral interrupts. */
__attribute__((section(".vectors"), used)) const vector_t cs_vector_table[16] = {
    (vector_t)(uintptr_t)&__stack_top,  /* initial SP */
    Reset_Handler,
    Fault_Handler,    /* NMI */
    Fault_Handler,    /* HardFault */
    Fault_Handler,    /* MemManage (v7-M) */
    Fault_Handler,    /* BusFault (v7-M) */
    Fault_Handler,    /* UsageFault (v7-M) */
    0, 0, 0, 0,
    Default_Handler,  /* SVCall */
    Default_Handler,  /* DebugMon */
    0,
    Default_Handler,  /* PendSV */
    Default_Handler,  /* SysTick (its interrupt is never enabled) */
};
