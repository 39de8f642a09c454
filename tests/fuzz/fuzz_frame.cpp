// libFuzzer harness over the replay firmware's frame decoder (hil/firmware/replay/frame.hpp: COBS,
// CRC-32, the received-frame check), compiled for the host with ASan + UBSan (scripts/fuzz.sh).
//
// Input: byte 0 selects the mode, the rest is data.
//   mode even: data is a raw receive stream; it is split at 0x00 exactly as main.cpp's receive loop does
//              (with the same rx buffer size and overflow flag) and every frame goes through check_frame.
//   mode odd:  data[0] = frame type, data[1..2] = seq, data[3] = flip position seed, data[4] = flip mask,
//              the rest the payload: the frame is built and encoded as the firmware / host do; decoding it
//              must give back the exact type, seq and payload; then one byte of the encoded frame is
//              changed (to a non-zero value, so the frame stays one frame) and the check must reject it.
// Invariants: no sanitizer report; every accepted frame has a body of 8..kMaxBody bytes whose CRC checks
// and whose version is 1; decode(encode(p)) == p; a single-byte corruption is rejected (a changed data
// byte is a burst of <= 8 bits, which CRC-32 always detects; a changed COBS code byte either fails framing
// or re-frames the rest of the body, which only a CRC-32 collision, p = 2^-32, would let through).
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../hil/firmware/replay/frame.hpp"

namespace {

using hil_frame::Check;
using hil_frame::kMaxBody;

uint8_t rx_enc[2 * kMaxBody + 8];  // the firmware's receive buffer size
uint8_t body[kMaxBody];
uint8_t tx_body[kMaxBody];
uint8_t wire[kMaxBody + kMaxBody / 254 + 8];  // the firmware's last_answer size

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "fuzz_frame invariant violated: %s\n", what);
  abort();
}

void check_accepted(Check c, size_t n) {
  if (c != Check::ok) {
    if (n != 0u) { fail("rejected frame reports a body length"); }
    return;
  }
  if (n < 8u || n > kMaxBody) { fail("accepted body length out of range"); }
  uint32_t crc;
  memcpy(&crc, &body[n - 4], 4);
  if (hil_frame::crc32(body, n - 4) != crc) { fail("accepted a frame whose CRC does not check"); }
  if (body[0] != hil_frame::kProtocol) { fail("accepted a frame with another version"); }
}

void stream(const uint8_t* d, size_t n) {
  size_t rx_len = 0;
  bool overflow = false;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t b = d[i];
    if (b == 0u) {
      if (rx_len > 0u) {
        size_t len = 1234;
        const Check c = hil_frame::check_frame(rx_enc, rx_len, overflow, body, sizeof body, &len);
        check_accepted(c, len);
      }
      rx_len = 0;
      overflow = false;
    } else if (rx_len < sizeof rx_enc) {
      rx_enc[rx_len++] = b;
    } else {
      overflow = true;
    }
  }
}

void round_trip(const uint8_t* d, size_t n) {
  if (n < 5u) { return; }
  const uint8_t type = d[0];
  const uint16_t seq = static_cast<uint16_t>(d[1] | (d[2] << 8));
  const uint8_t pos_seed = d[3], mask = d[4];
  const uint8_t* payload = d + 5;
  size_t plen = n - 5;
  if (plen > kMaxBody - 8u) { plen = kMaxBody - 8u; }
  tx_body[0] = hil_frame::kProtocol;
  tx_body[1] = type;
  memcpy(&tx_body[2], &seq, 2);
  memcpy(&tx_body[4], payload, plen);
  const uint32_t crc = hil_frame::crc32(tx_body, 4 + plen);
  memcpy(&tx_body[4 + plen], &crc, 4);
  const size_t blen = 8 + plen;
  const size_t w = hil_frame::cobs_encode(tx_body, blen, wire);
  if (w > blen + blen / 254 + 2) { fail("COBS output longer than its bound"); }
  if (wire[w - 1] != 0u) { fail("no delimiter"); }
  for (size_t i = 0; i + 1 < w; ++i) {
    if (wire[i] == 0u) { fail("0x00 inside a COBS frame"); }
  }
  size_t len = 0;
  if (hil_frame::check_frame(wire, w - 1, false, body, sizeof body, &len) != Check::ok) { fail("valid frame rejected"); }
  if (len != blen || memcmp(body, tx_body, blen) != 0) { fail("decode(encode(frame)) != frame"); }
  // the same bytes through the receive loop
  stream(wire, w);
  // one corrupted byte (never 0x00: that would split the frame, which the stream mode covers)
  const size_t at = pos_seed % (w - 1);
  uint8_t nb = static_cast<uint8_t>(wire[at] ^ (mask ? mask : 1u));
  if (nb == 0u) { nb = static_cast<uint8_t>(wire[at] == 1u ? 2u : 1u); }
  const uint8_t saved = wire[at];
  wire[at] = nb;
  len = 0;
  const Check c = hil_frame::check_frame(wire, w - 1, false, body, sizeof body, &len);
  if (c == Check::ok) { fail("single-byte corruption accepted"); }
  wire[at] = saved;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1u) { return 0; }
  if ((data[0] & 1u) == 0u) {
    stream(data + 1, size - 1);
  } else {
    round_trip(data + 1, size - 1);
  }
  return 0;
}
