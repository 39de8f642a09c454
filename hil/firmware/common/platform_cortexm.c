/* SPDX-License-Identifier: Apache-2.0 */
/* The runner's platform on a Cortex-M board under QEMU: semihosting output, SysTick ticks,
 * stack painting. Board facts come from board.h (boards/<board>/). */
#include <stdint.h>

#include "board.h"
#include "platform.h"
#include "semihost.h"

/* SysTick (ARMv6-M / ARMv7-M System Control Space). */
#define SYST_CSR (*(volatile uint32_t*)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018u)
#define SYST_CSR_ENABLE 0x1u
#define SYST_CSR_CLKSOURCE_CPU 0x4u

#define STACK_PAINT 0xC5C5C5C5u

extern uint32_t __stack_limit;  /* linker script: lowest address of the stack region */

static char out_buf[768];
static uint32_t out_len;

const char* platform_name(void) { return CS_BOARD_CORE_NAME; }

void platform_flush(void) {
  if (out_len == 0) { return; }
  out_buf[out_len] = '\0';
  semihost_write0(out_buf);
  out_len = 0;
}

void platform_write(const char* s) {
  while (*s != '\0') {
    if (out_len + 1u >= sizeof out_buf) { platform_flush(); }
    out_buf[out_len++] = *s++;
  }
}

void platform_ticks_start(void) {
  SYST_CSR = 0;
  SYST_RVR = 0x00FFFFFFu;
  SYST_CVR = 0;
  SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_CLKSOURCE_CPU;  /* no interrupt: just a down-counter */
}

/* SysTick counts down; return an up-counter modulo 2^24 (callers take differences). */
uint32_t platform_ticks(void) { return (0x00FFFFFFu - SYST_CVR) & 0x00FFFFFFu; }

uint32_t platform_insn_per_tick_num(void) { return CS_BOARD_INSN_PER_TICK_NUM; }
uint32_t platform_insn_per_tick_den(void) { return CS_BOARD_INSN_PER_TICK_DEN; }

void platform_stack_paint(uintptr_t sp) {
  volatile uint32_t* p = &__stack_limit;
  const volatile uint32_t* const end = (const volatile uint32_t*)(sp - 64u);  /* keep clear of the caller's frame */
  while (p < end) { *p++ = STACK_PAINT; }
}

uint32_t platform_stack_used(uintptr_t sp) {
  const volatile uint32_t* p = &__stack_limit;
  while ((uintptr_t)p < sp && *p == STACK_PAINT) { ++p; }
  return (uint32_t)(sp - (uintptr_t)p);
}

void platform_exit(int code) {
  platform_flush();
  semihost_exit(code);
}
