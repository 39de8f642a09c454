/* SPDX-License-Identifier: Apache-2.0 */
/* Output helpers shared by the test firmware runners (run_log.c, run_soh.c, spme/run_spme.cpp,
 * tests/mcu/soak_mcu.cpp): float bit patterns, hex and decimal numbers on platform_write(), the
 * FNV-1a word hash of the parity lines, and the tick-overhead line `cellsense bench --mcu` subtracts.
 * Header-only (static inline), C99 and C++; no heap, no printf. */
#ifndef CELLSENSE_FW_PRINT_H
#define CELLSENSE_FW_PRINT_H

#include <stdint.h>
#include <string.h>

#include "platform.h"

/* The IEEE-754 bit pattern of a float (compared bit for bit between host and device). */
static inline uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* FNV-1a over the four bytes of w, little end first (Fowler, Noll, Vo). */
static inline void fnv1a_word(uint32_t* hash, uint32_t w) {
  for (int i = 0; i < 4; ++i) {
    *hash ^= (w >> (8 * i)) & 0xFFu;
    *hash *= 16777619u;
  }
}

/* Eight lower-case hex digits. */
static inline void put_hex_bare(uint32_t v) {
  char b[9];
  for (int i = 0; i < 8; ++i) {
    const uint32_t d = (v >> (28 - 4 * i)) & 0xFu;
    b[i] = (char)(d < 10u ? '0' + (int)d : 'a' + (int)d - 10);
  }
  b[8] = '\0';
  platform_write(b);
}

/* A space, then eight hex digits. */
static inline void put_hex(uint32_t v) {
  platform_write(" ");
  put_hex_bare(v);
}

/* Unsigned decimal. */
static inline void put_dec(uint32_t v) {
  char b[11];
  int i = 10;
  b[i] = '\0';
  do {
    b[--i] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v != 0u && i > 0);
  platform_write(&b[i]);
}

/* A space, then unsigned decimal. */
static inline void put_uint(uint32_t v) {
  platform_write(" ");
  put_dec(v);
}

/* Per-step cost of a run: total and largest tick count, largest stack use (bytes). */
typedef struct fw_step_stats {
  uint32_t ticks_total;
  uint32_t ticks_max;
  uint32_t stack_max;
} fw_step_stats;

static inline void fw_stats_add(fw_step_stats* s, uint32_t ticks, uint32_t stack) {
  s->ticks_total += ticks;
  if (ticks > s->ticks_max) { s->ticks_max = ticks; }
  if (stack > s->stack_max) { s->stack_max = stack; }
}

/* "s <name> <k> <status> <soc> <soc_sigma> <v_pred> <innov> <S> <nis> <ticks> <stack>": a step report as
 * 7 words (status, then the six float bit patterns in hex); each word is also hashed into *hash. */
static inline void put_step_line(const char* name, uint32_t k, const uint32_t w[7], uint32_t ticks, uint32_t stack,
                                 uint32_t* hash) {
  platform_write("s ");
  platform_write(name);
  put_uint(k);
  put_uint(w[0]);
  for (int i = 1; i < 7; ++i) { put_hex(w[i]); }
  for (int i = 0; i < 7; ++i) { fnv1a_word(hash, w[i]); }
  put_uint(ticks);
  put_uint(stack);
  platform_write("\n");
}

/* "sum <name> steps=<n> ticks=<total> ticks_max=<max> stack_max=<bytes>"; the caller continues the line. */
static inline void put_sum_head(const char* name, uint32_t steps, const fw_step_stats* s) {
  platform_write("sum ");
  platform_write(name);
  platform_write(" steps=");
  put_dec(steps);
  platform_write(" ticks=");
  put_dec(s->ticks_total);
  platform_write(" ticks_max=");
  put_dec(s->ticks_max);
  platform_write(" stack_max=");
  put_dec(s->stack_max);
}

/* The first line of a run: "fw <platform><what><steps> insn_per_tick=<num>/<den>", e.g. what = " steps=". */
static inline void put_fw_banner(const char* what, uint32_t steps) {
  platform_write("fw ");
  platform_write(platform_name());
  platform_write(what);
  put_dec(steps);
  platform_write(" insn_per_tick=");
  put_dec(platform_insn_per_tick_num());
  platform_write("/");
  put_dec(platform_insn_per_tick_den());
  platform_write("\n");
}

/* "overhead ticks=<n>": two back-to-back tick reads, subtracted per step by the report. */
static inline void put_tick_overhead(void) {
  const uint32_t c0 = platform_ticks();
  const uint32_t c1 = platform_ticks();
  platform_write("overhead ticks=");
  put_dec((c1 - c0) & 0x00FFFFFFu);
  platform_write("\n");
}

#endif /* CELLSENSE_FW_PRINT_H */
