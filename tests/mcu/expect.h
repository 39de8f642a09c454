/* SPDX-License-Identifier: Apache-2.0 */
/* The host C API tests' check: print the failed condition with its place and count it; the test's
 * main() returns non-zero when `failures` is. One definition for every tests/mcu host test. */
#ifndef CELLSENSE_TESTS_MCU_EXPECT_H
#define CELLSENSE_TESTS_MCU_EXPECT_H

#include <stdio.h>

static int failures;
#define EXPECT(cond)                                                     \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                        \
    }                                                                    \
  } while (0)

#endif
