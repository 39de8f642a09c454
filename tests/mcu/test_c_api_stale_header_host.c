/* SPDX-License-Identifier: Apache-2.0 */
/* Host test of a firmware built against an older c_api.h (issue: stale headers): this file sees the sizes of API
 * version 1's header (cs_estimator 232 B, cs_soh 432 B) while the library is the current one. The cell parameters'
 * layout tag, evaluated with this header, folds those sizes in: cs_init answers CS_INIT_BAD_LAYOUT and writes
 * nothing past the storage's 8-byte header (the bytes after a 232 B cs_estimator stay as they were), every other
 * call answers "not initialised", and cs_soh_init writes nothing past its header either. Strict C99. */
#define CS_ESTIMATOR_SIZE 232u /* what the stale header declared */
#define CS_SOH_SIZE 432u
#include <stdio.h>
#include <string.h>

#include "cell_params.h"
#include "cellsense/c_api.h"

#include "expect.h"

/* verifies: CS-CAPI-013 */
static void test_stale_sizes_refused(void) {
  static struct {
    cs_estimator est;            /* 232 B here */
    unsigned char after[64];     /* what follows it in the firmware's RAM */
  } ram;
  static struct {
    cs_soh soh;                  /* 432 B here */
    unsigned char after[64];
  } ram_soh;
  unsigned char want[sizeof ram];
  cs_config c;
  cs_soh_config sc;
  cs_report r;
  memset(&ram, 0xA5, sizeof ram);
  memcpy(want, &ram, sizeof ram);
  cs_config_default(&c);
  c.filter = CS_FILTER_UKF; /* the larger implementation: 240 B, past a 232 B storage */
  EXPECT(cs_init(&ram.est, &cell_params, &c) == CS_INIT_BAD_LAYOUT);
  EXPECT(memcmp((const unsigned char*)&ram + 8, want + 8, sizeof ram - 8) == 0); /* only the header cleared */
  EXPECT(cs_step(&ram.est, 1.0f, 1.0f, 3.9f, 25.0f, &r) == CS_STATUS_NOT_INITIALISED);
  /* the SOH storage: the estimator is not initialised, so only the tracker's header is cleared */
  memset(&ram_soh, 0xA5, sizeof ram_soh);
  cs_soh_config_default(&sc, 5.0f);
  EXPECT(cs_soh_init(&ram_soh.soh, &ram.est, &sc) == CS_SOH_NOT_INITIALISED);
  for (unsigned b = 16; b < sizeof ram_soh; ++b) { EXPECT(((const unsigned char*)&ram_soh)[b] == 0xA5); }
  /* the tag differs from the library's in the size checksum, not only the version: a same-version header with
     another size is refused too (a cell file exported with this header, a library of the other sizes) */
  EXPECT((cell_params.layout & 0xFFFFu) == (((uint32_t)CS_C_API_VERSION << 12u) |
                                           ((uint32_t)CS_MAX_SOC_POINTS << 4u) | (uint32_t)CS_MAX_TEMPERATURE_POINTS));
  EXPECT(sizeof(cs_estimator) == 232u);
}

int main(void) {
  test_stale_sizes_refused();
  if (failures == 0) printf("test_c_api_stale_header_host: ok\n");
  return failures == 0 ? 0 : 1;
}
