/* SPDX-License-Identifier: Apache-2.0 */
/* The replay firmware: the pack estimator (cpp/include/cellsense/pack/pack.hpp, float32, 2 RC +
 * hysteresis, EKF or UKF) behind the HIL byte-link protocol v1 (docs/hil-protocol.md) on the
 * board's CMSDK APB UART0. The host (python/cellsense/replay) configures it (settings, cell
 * parameters, per-cell spread, initial SOCs), then sends one STEP frame per log sample and reads one
 * RESULT frame per step, with the pack step's SysTick count (instructions under qemu -icount).
 *
 * Link rules (docs/hil-protocol.md): stop-and-wait; a repeated sequence number gets the cached
 * answer again (the step is NOT executed twice); a corrupted frame (COBS or CRC) gets NAK crc /
 * framing; an out-of-order one NAK sequence; STEP before START NAK not_configured. At boot the
 * firmware announces itself with READY (seq 0) before reading anything. Static storage only. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <new>

#include "board.h"
#include "frame.hpp"
#include "cellsense/cellsense.hpp"
#include "cellsense/pack/pack.hpp"

extern "C" {
#include "platform.h"
}

#ifndef CS_REPLAY_MAX_CELLS
#define CS_REPLAY_MAX_CELLS 108
#endif
#ifndef CS_REPLAY_MAX_SENSORS
#define CS_REPLAY_MAX_SENSORS 16
#endif

namespace {

constexpr uint8_t kProtocol = hil_frame::kProtocol;
constexpr uint32_t kMaxBody = hil_frame::kMaxBody;
constexpr uint8_t T_HELLO = 0x01, T_CONFIG = 0x02, T_PARAMS = 0x03, T_CELLS = 0x04, T_START = 0x05, T_STEP = 0x06,
                  T_DEBUG = 0x70, T_READY = 0x80, T_ACK = 0x81, T_RESULT = 0x86, T_NAK = 0xFF;
constexpr uint8_t NAK_CRC = 1, NAK_FRAMING = 2, NAK_SEQUENCE = 3, NAK_NOT_CONFIGURED = 4, NAK_BAD_MESSAGE = 5;
constexpr int kMaxCells = CS_REPLAY_MAX_CELLS;
// CONFIG's float32 settings (python/cellsense/replay/framing.py CONFIG_FLOATS, docs/hil-protocol.md): 20 until
// 2026-12-07, then the four model-error settings of the cell estimator.
constexpr uint32_t kConfigFloats = 24u;

using Params = cellsense::model::EcmParams<float, 2, 64, 8>;
using Base = cellsense::model::EcmModel<float, 2, 64, 8>;
using EkfPack = cellsense::pack::PackEstimator<Base, cellsense::filter::Ekf, kMaxCells>;
using UkfPack = cellsense::pack::PackEstimator<Base, cellsense::filter::Ukf, kMaxCells>;

// ---- CMSDK APB UART0 (mps2 boards) ------------------------------------------------------------
struct Uart {
  // Register map: every field is a register at its offset, also the ones this firmware never reads.
  // cppcheck-suppress unusedStructMember
  volatile uint32_t data, state, ctrl, intstatus, bauddiv;
};
Uart* const uart0 = reinterpret_cast<Uart*>(0x40004000u);
void uart_init() {
  uart0->bauddiv = 16u;
  uart0->ctrl = 0x3u;  // TX and RX enable
}
void uart_put(uint8_t b) {
  while ((uart0->state & 0x1u) != 0u) {
  }
  uart0->data = b;
}
bool uart_get(uint8_t& b) {
  if ((uart0->state & 0x2u) == 0u) { return false; }
  b = static_cast<uint8_t>(uart0->data & 0xFFu);
  return true;
}

using hil_frame::crc32;

// ---- Frames --------------------------------------------------------------------------------------
uint8_t rx_enc[2 * kMaxBody + 8];  // COBS bytes of the frame being received
size_t rx_len;
bool rx_overflow;
uint8_t rx_body[kMaxBody];
uint8_t tx_body[kMaxBody];
uint8_t last_answer[kMaxBody + kMaxBody / 254 + 8];  // encoded bytes of the last answer (for repeats)
size_t last_answer_len;

uint8_t nak_enc[32];  // NAKs are not cached: a repeat must get the last real answer

// Encode tx_body[0..n) with COBS into `out`, append the delimiter, send it; returns the length.
size_t send_body(size_t n, uint8_t* out) {
  const size_t o = hil_frame::cobs_encode(tx_body, n, out);
  for (size_t i = 0; i < o; ++i) { uart_put(out[i]); }
  return o;
}

void put_u16(uint8_t* p, uint16_t v) { memcpy(p, &v, 2); }
void put_u32(uint8_t* p, uint32_t v) { memcpy(p, &v, 4); }
void put_f32(uint8_t* p, float v) { memcpy(p, &v, 4); }
uint16_t get_u16(const uint8_t* p) { uint16_t v; memcpy(&v, p, 2); return v; }
uint32_t get_u32(const uint8_t* p) { uint32_t v; memcpy(&v, p, 4); return v; }
float get_f32(const uint8_t* p) { float v; memcpy(&v, p, 4); return v; }

// Header + payload already in tx_body[4..4+n): finish and send.
void answer(uint8_t type, uint16_t seq, size_t payload_len) {
  tx_body[0] = kProtocol;
  tx_body[1] = type;
  put_u16(&tx_body[2], seq);
  put_u32(&tx_body[4 + payload_len], crc32(tx_body, 4 + payload_len));
  if (type == T_NAK) {
    (void)send_body(4 + payload_len + 4, nak_enc);
  } else {
    last_answer_len = send_body(4 + payload_len + 4, last_answer);
  }
}

void send_nak(uint8_t reason, uint16_t expected) {
  tx_body[4] = reason;
  put_u16(&tx_body[5], expected);
  answer(T_NAK, expected, 3);
}

void send_ack(uint16_t seq, uint8_t result, uint16_t detail) {
  tx_body[4] = result;
  put_u16(&tx_body[5], detail);
  answer(T_ACK, seq, 3);
}

// ---- Pack state ------------------------------------------------------------------------------------
Params params;
alignas(EkfPack) alignas(UkfPack) unsigned char pack_storage[sizeof(EkfPack) > sizeof(UkfPack) ? sizeof(EkfPack)
                                                                                              : sizeof(UkfPack)];
EkfPack* ekf;
UkfPack* ukf;
uint8_t filter_kind;
bool configured, started;
uint16_t n_cells, n_soc, n_temp;
EkfPack::Config cfg_ekf;
UkfPack::Config cfg_ukf;
cellsense::pack::CellVariation<float> variation[kMaxCells];
float soc0[kMaxCells];
uint8_t sensor_of[kMaxCells];
float volts[kMaxCells], temps_cell[kMaxCells];
cellsense::pack::CellReport<float> reports[kMaxCells];
uint16_t last_seq;
bool have_answer;

void send_ready(uint16_t seq) {
  const char* name = CS_BOARD_CORE_NAME;
  const size_t len = strlen(name);
  uint8_t* p = &tx_body[4];
  p[0] = kProtocol;
  put_u16(p + 1, static_cast<uint16_t>(kMaxCells));
  put_u16(p + 3, static_cast<uint16_t>(kMaxBody));
  put_u16(p + 5, static_cast<uint16_t>(sizeof(EkfPack::CellEstimator)));
  put_u16(p + 7, static_cast<uint16_t>(sizeof(UkfPack::CellEstimator)));
  put_u32(p + 9, static_cast<uint32_t>(sizeof(EkfPack)));
  p[13] = static_cast<uint8_t>(len);
  memcpy(p + 14, name, len);
  answer(T_READY, seq, 14 + len);
}

// Word i of the PARAMS stream (docs/hil-protocol.md) -> its place in the parameter struct.
float* param_word(uint32_t i) {
  if (i < 10u) {
    // cppcheck-suppress constVariable ; the pointers are returned for writing, the array is const
    float* const scalars[10] = {&params.capacity_Ah, &params.coulombic_efficiency, &params.hysteresis_rate,
                                &params.sign_deadband_A, &params.voltage_min_V, &params.voltage_max_V,
                                &params.current_min_A, &params.current_max_A, &params.temperature_min_degC,
                                &params.temperature_max_degC};
    return scalars[i];
  }
  i -= 10u;
  if (i < n_soc) { return &params.grid.soc[i]; }
  i -= n_soc;
  if (i < n_temp) { return &params.grid.temperature_degC[i]; }
  i -= n_temp;
  const uint32_t per = static_cast<uint32_t>(n_soc) * n_temp;
  const uint32_t t = i / per, r = i % per;
  Params::TableT* tables[8] = {&params.ocv_V, &params.r0_Ohm, &params.rc_r_Ohm[0], &params.rc_r_Ohm[1],
                               &params.rc_tau_s[0], &params.rc_tau_s[1], &params.hysteresis_V,
                               &params.hysteresis_instant_V};
  if (t >= 8u) { return nullptr; }
  return &tables[t]->value[r / n_soc][r % n_soc];
}

template <class Cfg>
void fill_config(Cfg& c, const float* f, uint8_t gap_policy, uint8_t predict_only, uint16_t timeout) {
  c = Cfg{};
  c.estimator.dt_max_s = f[0];
  c.estimator.soc_min = f[1];
  c.estimator.soc_max = f[2];
  c.estimator.voltage_sigma_V = f[3];
  c.estimator.gate_nis = f[4];
  c.estimator.gate_policy = predict_only ? cellsense::GatePolicy::kPredictOnly : cellsense::GatePolicy::kRejectStep;
  c.estimator.gate_timeout_steps = timeout;
  c.noise.soc_per_sqrt_s = f[5];
  c.noise.v_rc_V_per_sqrt_s = f[6];
  c.noise.hysteresis_per_sqrt_s = f[7];
  c.noise.current_sigma_A = f[8];
  c.initial_soc_sigma = f[9];
  c.initial_v_rc_sigma_V = f[10];
  c.initial_hysteresis = f[11];
  c.initial_hysteresis_sigma = f[12];
  c.usable_soc_low = f[13];
  c.usable_soc_high = f[14];
  c.gap.policy = gap_policy ? cellsense::pack::GapPolicy::kReinit : cellsense::pack::GapPolicy::kRest;
  c.gap.gap_s = f[15];
  c.gap.reinit_after_s = f[16];
  // f[17..19]: the UKF's alpha, beta, kappa (handle()); f[20..23]: the model error (CONFIG since 2026-12-07)
  c.estimator.model_error_current_A = f[20];
  c.estimator.model_error_relative = f[21];
  c.estimator.model_error_correlation_s = f[22];
  c.estimator.model_error_voltage_V = f[23];
}

template <class P>
void result_of(P& pack, const uint8_t* pl, uint16_t seq) {
  const uint32_t frame = get_u32(pl);
  const float dt = get_f32(pl + 4);
  const float current = get_f32(pl + 8);
  const uint8_t ns = pl[12];
  const uint8_t* tp = pl + 13;
  const uint8_t* vp = tp + 4u * ns;
  for (int k = 0; k < n_cells; ++k) {
    volts[k] = get_f32(vp + 4 * k);
    temps_cell[k] = get_f32(tp + 4u * sensor_of[k]);
  }
  cellsense::pack::PackSummary<float> s{};
  uint32_t ticks = 0;
  uint8_t event = cellsense::pack::kEventInitial;
  // cppcheck-suppress [incorrectLogicOperator, oppositeExpression] ; false only for NaN
  if (!(dt <= 0.0f || dt > 0.0f)) {  // NaN: the first sample only sets the clock
    pack.summarise(s);
    for (int k = 0; k < n_cells; ++k) {
      reports[k] = cellsense::pack::CellReport<float>{cellsense::kStatusInitial, pack.cell(k).soc(), pack.cell(k).soc_sigma()};
    }
  } else {
    const uint32_t t0 = platform_ticks();
    s = pack.step(dt, current, volts, temps_cell, reports);
    const uint32_t t1 = platform_ticks();
    ticks = (t1 - t0) & 0x00FFFFFFu;
    event = static_cast<uint8_t>(s.event);
  }
  uint8_t* p = &tx_body[4];
  put_u32(p, frame);
  p[4] = event;
  put_u16(p + 5, s.n_rejected);
  put_u32(p + 7, ticks);
  const float figs[7] = {s.usable_soc, s.soc_min, s.soc_max, s.soc_mean, s.imbalance, s.dischargeable_Ah,
                         s.chargeable_Ah};
  for (int i = 0; i < 7; ++i) { put_f32(p + 11 + 4 * i, figs[i]); }
  put_u16(p + 39, s.index_min);
  put_u16(p + 41, s.index_max);
  uint8_t* c = p + 43;
  for (int k = 0; k < n_cells; ++k) {
    c[0] = reports[k].status;
    put_f32(c + 1, reports[k].soc);
    put_f32(c + 5, reports[k].soc_sigma);
    c += 9;
  }
  answer(T_RESULT, seq, 43u + 9u * n_cells);
}

void handle(uint8_t type, uint16_t seq, const uint8_t* pl, size_t n) {
  switch (type) {
    case T_CONFIG: {
      if (n != 12u + kConfigFloats * 4u) { send_nak(NAK_BAD_MESSAGE, seq); return; }
      const uint16_t nc = get_u16(pl);
      const uint8_t filt = pl[2], gap = pl[3], predict_only = pl[4], rc = pl[5];
      const uint16_t timeout = get_u16(pl + 6), ns = get_u16(pl + 8), nt = get_u16(pl + 10);
      started = false;
      configured = false;
      if (nc < 1u || nc > kMaxCells || filt > 1u || rc != 2u || ns < 2u || ns > 64u || nt < 1u || nt > 8u) {
        send_ack(seq, 1, 0);
        return;
      }
      float f[kConfigFloats];
      for (uint32_t i = 0; i < kConfigFloats; ++i) { f[i] = get_f32(pl + 12 + 4 * i); }
      n_cells = nc;
      filter_kind = filt;
      n_soc = ns;
      n_temp = nt;
      params = Params{};
      params.grid.n_soc = ns;
      params.grid.n_temperature = nt;
      fill_config(cfg_ekf, f, gap, predict_only, timeout);
      fill_config(cfg_ukf, f, gap, predict_only, timeout);
      cfg_ukf.filter.alpha = f[17];
      cfg_ukf.filter.beta = f[18];
      cfg_ukf.filter.kappa = f[19];
      for (int k = 0; k < kMaxCells; ++k) {
        variation[k] = cellsense::pack::CellVariation<float>{};
        soc0[k] = 0.5f;
        sensor_of[k] = 0;
      }
      configured = true;
      send_ack(seq, 0, 0);
      return;
    }
    case T_PARAMS: {
      if (!configured || n < 3u || n != 3u + 4u * pl[2]) { send_ack(seq, 2, 0); return; }
      const uint16_t first = get_u16(pl);
      for (uint32_t i = 0; i < pl[2]; ++i) {
        float* w = param_word(first + i);
        if (w == nullptr) { send_ack(seq, 2, static_cast<uint16_t>(first + i)); return; }
        *w = get_f32(pl + 3 + 4 * i);
      }
      send_ack(seq, 0, 0);
      return;
    }
    case T_CELLS: {
      if (!configured || n < 4u) { send_ack(seq, 3, 0); return; }
      const uint16_t first = get_u16(pl), count = get_u16(pl + 2);
      if (n != 4u + 13u * count || first + count > n_cells) { send_ack(seq, 3, first); return; }
      for (uint16_t i = 0; i < count; ++i) {
        const uint8_t* e = pl + 4 + 13 * i;
        variation[first + i] = cellsense::pack::CellVariation<float>{get_f32(e), get_f32(e + 4)};
        soc0[first + i] = get_f32(e + 8);
        sensor_of[first + i] = e[12] < CS_REPLAY_MAX_SENSORS ? e[12] : 0;
      }
      send_ack(seq, 0, 0);
      return;
    }
    case T_START: {
      if (!configured) { send_ack(seq, 4, 0); return; }
      const cellsense::model::ParamError pe = cellsense::model::validate(params);
      if (pe != cellsense::model::ParamError::kOk) { send_ack(seq, static_cast<uint8_t>(100u + static_cast<uint8_t>(pe)), 0); return; }
      int bad = -1;
      cellsense::InitStatus st;
      ekf = nullptr;
      ukf = nullptr;
      if (filter_kind == 1u) {
        ukf = ::new (static_cast<void*>(pack_storage)) UkfPack();
        st = ukf->init(&params, n_cells, variation, soc0, cfg_ukf, &bad);
      } else {
        ekf = ::new (static_cast<void*>(pack_storage)) EkfPack();
        st = ekf->init(&params, n_cells, variation, soc0, cfg_ekf, &bad);
      }
      started = st == cellsense::InitStatus::kOk;
      send_ack(seq, static_cast<uint8_t>(st), static_cast<uint16_t>(bad < 0 ? 0xFFFF : bad));
      return;
    }
    case T_STEP: {
      if (!started) { send_nak(NAK_NOT_CONFIGURED, seq); return; }
      if (n < 13u) { send_nak(NAK_BAD_MESSAGE, seq); return; }
      const uint8_t ns = pl[12];
      if (ns < 1u || ns > CS_REPLAY_MAX_SENSORS || n != 13u + 4u * ns + 4u * n_cells) { send_nak(NAK_BAD_MESSAGE, seq); return; }
      for (int k = 0; k < n_cells; ++k) {
        if (sensor_of[k] >= ns) { send_nak(NAK_BAD_MESSAGE, seq); return; }
      }
      if (filter_kind == 1u) {
        result_of(*ukf, pl, seq);
      } else {
        result_of(*ekf, pl, seq);
      }
      return;
    }
    case T_DEBUG: {
      if (n == 1u && pl[0] == 1u) {
        for (;;) {  // stop answering (host timeout test)
        }
      }
      if (n == 1u && pl[0] == 2u) {  // SYSRESETREQ (host reset-detection test)
        *reinterpret_cast<volatile uint32_t*>(0xE000ED0Cu) = 0x05FA0004u;
        for (;;) {
        }
      }
      send_nak(NAK_BAD_MESSAGE, seq);
      return;
    }
    default:
      send_nak(NAK_BAD_MESSAGE, seq);
      return;
  }
}

void on_frame() {
  const uint16_t expected = static_cast<uint16_t>(last_seq + 1u);
  size_t n = 0;
  const hil_frame::Check check = hil_frame::check_frame(rx_enc, rx_len, rx_overflow, rx_body, sizeof rx_body, &n);
  if (check == hil_frame::Check::crc) { send_nak(NAK_CRC, expected); return; }
  if (check != hil_frame::Check::ok) { send_nak(NAK_FRAMING, expected); return; }
  const uint8_t type = rx_body[1];
  const uint16_t seq = get_u16(&rx_body[2]);
  if (type == T_HELLO) {  // a new session: any sequence number
    last_seq = seq;
    started = false;
    configured = false;
    send_ready(seq);
    have_answer = true;
    return;
  }
  if (have_answer && seq == last_seq) {  // a repeat: the host lost our answer; send it again, do not redo
    for (size_t i = 0; i < last_answer_len; ++i) { uart_put(last_answer[i]); }
    return;
  }
  if (seq != expected) { send_nak(NAK_SEQUENCE, expected); return; }
  handle(type, seq, &rx_body[4], n - 8);
  last_seq = seq;
  have_answer = true;
}

}  // namespace

int main(void) {
  platform_ticks_start();
  uart_init();
  send_ready(0);  // announce: the host waits for this before sending (docs/embedded notes)
  have_answer = false;
  for (;;) {
    uint8_t b;
    if (!uart_get(b)) { continue; }
    if (b == 0u) {
      if (rx_len > 0u) { on_frame(); }
      rx_len = 0;
      rx_overflow = false;
    } else if (rx_len < sizeof rx_enc) {
      rx_enc[rx_len++] = b;
    } else {
      rx_overflow = true;
    }
  }
}
