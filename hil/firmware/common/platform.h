/* SPDX-License-Identifier: Apache-2.0 */
/* What the log runner (run_log.c) needs from where it runs: a Cortex-M board under QEMU
 * (platform_cortexm.c) or the host (../host/platform_host.c). */
#ifndef CS_FW_PLATFORM_H
#define CS_FW_PLATFORM_H

#include <stdint.h>

/* Name of the core / host, printed in the header line. */
const char* platform_name(void);
/* Append text to the output (buffered; flushed by platform_flush and platform_exit). */
void platform_write(const char* s);
void platform_flush(void);
/* Free-running tick counter for instruction counting; 0 on the host. */
void platform_ticks_start(void);
uint32_t platform_ticks(void);
/* Instructions per tick as a fraction num/den (mps2: 40/1 with -icount shift=0); 0/1 on the host. */
uint32_t platform_insn_per_tick_num(void);
uint32_t platform_insn_per_tick_den(void);
/* Stack painting around one call: paint the free stack, then report the bytes used below `sp`. */
void platform_stack_paint(uintptr_t sp);
uint32_t platform_stack_used(uintptr_t sp);
void platform_exit(int code) __attribute__((noreturn));

/* Current stack pointer of the caller (inline so it is the caller's frame). */
static inline uintptr_t platform_sp(void) {
#if defined(__arm__)
  uintptr_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
#else
  return 0;
#endif
}

#endif
