/* SPDX-License-Identifier: Apache-2.0 */
/* The runner's platform on the host: stdout, no tick counter, no stack painting. Built with the
 * host compiler and -ffp-contract=off, it is the reference the Cortex-M outputs are compared with. */
#include <stdio.h>
#include <stdlib.h>

#include "platform.h"

const char* platform_name(void) { return "host"; }
void platform_write(const char* s) { fputs(s, stdout); }
void platform_flush(void) { fflush(stdout); }
void platform_ticks_start(void) {}
uint32_t platform_ticks(void) { return 0u; }
uint32_t platform_insn_per_tick_num(void) { return 0u; }
uint32_t platform_insn_per_tick_den(void) { return 1u; }
void platform_stack_paint(uintptr_t sp) { (void)sp; }
uint32_t platform_stack_used(uintptr_t sp) {
  (void)sp;
  return 0u;
}
void platform_exit(int code) {
  fflush(stdout);
  exit(code);
}
