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
