/* SPDX-License-Identifier: Apache-2.0 */
/* The byte-level half of the HIL link protocol v1 (docs/hil-protocol.md): CRC-32/ISO-HDLC, COBS and
 * the check of one received frame. Pure functions over caller buffers (no UART, no globals, no heap),
 * used by the replay firmware (main.cpp) and by the host fuzzer (tests/fuzz/fuzz_frame.cpp).
 *   wire = COBS(body) 0x00,  body = version:u8 type:u8 seq:u16 payload crc:u32 (little endian) */
#ifndef CELLSENSE_HIL_REPLAY_FRAME_HPP
#define CELLSENSE_HIL_REPLAY_FRAME_HPP

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace hil_frame {

constexpr uint8_t kProtocol = 1;
constexpr uint32_t kMaxBody = 2048;

// CRC-32/ISO-HDLC (zlib's), nibble table.
inline uint32_t crc32(const uint8_t* p, size_t n) {
  static const uint32_t t[16] = {0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
                                 0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
                                 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    c = (c >> 4) ^ t[c & 0xFu];
    c = (c >> 4) ^ t[c & 0xFu];
  }
  return c ^ 0xFFFFFFFFu;
}

// COBS-decode in[0..n) (no delimiter) into out[0..cap); ok = false on a bad code byte or overflow.
inline size_t cobs_decode(const uint8_t* in, size_t n, uint8_t* out, size_t cap, bool& ok) {
  size_t o = 0, i = 0;
  ok = false;
  while (i < n) {
    const uint8_t code = in[i];
    if (code == 0u || i + code > n) { return 0; }
    for (size_t k = 1; k < code; ++k) {
      if (o >= cap) { return 0; }
      out[o++] = in[i + k];
    }
    i += code;
    if (code != 255u && i < n) {
      if (o >= cap) { return 0; }
      out[o++] = 0u;
    }
  }
  ok = true;
  return o;
}

// COBS-encode in[0..n) into out and append the 0x00 delimiter; returns the bytes written
// (at most n + n / 254 + 2).
inline size_t cobs_encode(const uint8_t* in, size_t n, uint8_t* out) {
  size_t o = 0, code_at = o++;
  uint8_t code = 1;
  for (size_t i = 0; i < n; ++i) {
    if (in[i] == 0u) {
      out[code_at] = code;
      code_at = o++;
      code = 1;
    } else {
      out[o++] = in[i];
      ++code;
      if (code == 255u) {
        out[code_at] = code;
        code_at = o++;
        code = 1;
      }
    }
  }
  out[code_at] = code;
  out[o++] = 0u;
  return o;
}

enum class Check : uint8_t { ok, framing, crc, version };

// Check one received frame: COBS bytes enc[0..n) (delimiter stripped; `overflow` if bytes were dropped)
// decoded into body[0..cap). On ok, *body_len is the body length (>= 8: header, payload, CRC).
// Order as on the wire: COBS / length / overflow (framing), then CRC, then version (framing).
inline Check check_frame(const uint8_t* enc, size_t n, bool overflow, uint8_t* body, size_t cap, size_t* body_len) {
  bool ok = false;
  const size_t len = cobs_decode(enc, n, body, cap, ok);
  *body_len = 0;
  if (!ok || len < 8u || overflow) { return Check::framing; }
  uint32_t crc;
  memcpy(&crc, &body[len - 4], 4);
  if (crc32(body, len - 4) != crc) { return Check::crc; }
  if (body[0] != kProtocol) { return Check::version; }
  *body_len = len;
  return Check::ok;
}

}  // namespace hil_frame

#endif
