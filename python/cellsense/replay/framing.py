"""The HIL byte-link protocol, version 1 (docs/hil-protocol.md): COBS-delimited frames with a
CRC-32, a frame type and a sequence number, plus the payload layouts of every message.

Wire format: COBS(body) followed by one 0x00 delimiter, where::

    body = version:u8  type:u8  seq:u16  payload  crc:u32      (little endian)

and crc = CRC-32/ISO-HDLC (zlib.crc32) of version..payload. The firmware side is
hil/firmware/replay/frame.hpp (used by main.cpp); both follow docs/hil-protocol.md.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

PROTOCOL_VERSION = 1
MAX_BODY = 2048  #: largest body (header + payload + CRC) either side accepts (bytes)

# Host -> device
T_HELLO = 0x01
T_CONFIG = 0x02
T_PARAMS = 0x03
T_CELLS = 0x04
T_START = 0x05
T_STEP = 0x06
T_DEBUG = 0x70
# Device -> host
T_READY = 0x80
T_ACK = 0x81
T_RESULT = 0x86
T_NAK = 0xFF

NAK_CRC = 1          #: the frame's CRC did not match (corrupted)
NAK_FRAMING = 2      #: COBS decoding failed, or the frame is shorter than a header + CRC (corrupted)
NAK_SEQUENCE = 3     #: sequence number is neither the expected one nor a repeat (a frame went missing)
NAK_NOT_CONFIGURED = 4  #: STEP before a successful START (e.g. the device reset)
NAK_BAD_MESSAGE = 5  #: unknown type, wrong payload length, bad value
NAK_REASONS = {NAK_CRC: "crc", NAK_FRAMING: "framing", NAK_SEQUENCE: "sequence", NAK_NOT_CONFIGURED: "not_configured",
               NAK_BAD_MESSAGE: "bad_message"}

DEBUG_HANG = 1       #: device stops answering (test of the host's timeouts)
DEBUG_RESET = 2      #: device resets itself (test of reset detection)

# CONFIG payload: n_cells u16, filter u8, gap_policy u8, gate_predict_only u8, rc_pairs u8, gate_timeout u16,
# n_soc u16, n_temp u16, then CONFIG_FLOATS float32 in this order.
CONFIG_HEAD = struct.Struct("<HBBBBHHH")
CONFIG_FLOATS = ("dt_max_s", "soc_min", "soc_max", "voltage_sigma_V", "gate_nis", "soc_per_sqrt_s",
                 "v_rc_V_per_sqrt_s", "hysteresis_per_sqrt_s", "current_sigma_A", "initial_soc_sigma",
                 "initial_v_rc_sigma_V", "initial_hysteresis", "initial_hysteresis_sigma", "usable_soc_low",
                 "usable_soc_high", "gap_s", "reinit_after_s", "ukf_alpha", "ukf_beta", "ukf_kappa",
                 "model_error_current_A", "model_error_relative", "model_error_correlation_s", "model_error_voltage_V")
PARAM_SCALARS = ("capacity_Ah", "coulombic_efficiency", "hysteresis_rate", "sign_deadband_A", "voltage_min_V",
                 "voltage_max_V", "current_min_A", "current_max_A", "temperature_min_degC", "temperature_max_degC")
PARAMS_HEAD = struct.Struct("<HB")        # first word index, word count; then count float32
PARAMS_MAX_WORDS = 200
CELLS_HEAD = struct.Struct("<HH")         # first cell, count; then per cell CELL_ENTRY
CELL_ENTRY = struct.Struct("<fffB")       # capacity_scale, resistance_scale, initial_soc, temperature sensor
CELLS_MAX = 64
STEP_HEAD = struct.Struct("<IffB")        # frame index, dt_s (NaN: initial), current_A, n_sensors; then floats
READY_HEAD = struct.Struct("<BHHHHIB")    # protocol, max_cells, max_body, sizeof_cell EKF, sizeof_cell UKF, sizeof_pack EKF, name length
ACK = struct.Struct("<BH")                # result, detail
NAK = struct.Struct("<BH")                # reason, expected seq
RESULT_HEAD = struct.Struct("<IBHI7fHH")  # frame, event, n_rejected, ticks, 7 pack figures, index_min, index_max
RESULT_CELL = np.dtype([("status", "u1"), ("soc", "<f4"), ("soc_sigma", "<f4")])
RESULT_FIGURES = ("usable_soc", "soc_min", "soc_max", "soc_mean", "imbalance", "dischargeable_Ah", "chargeable_Ah")


class FrameError(ValueError):
    """A received frame is corrupted; `.kind` is "framing" or "crc"."""

    def __init__(self, kind: str, msg: str) -> None:
        super().__init__(msg)
        self.kind = kind


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing (Cheshire & Baker, IEEE/ACM Trans. Netw. 7(2), 1999): no 0x00 in the output.
    Code byte k (1..254): k - 1 data bytes then a zero; 255: 254 data bytes, no zero."""
    out = bytearray()
    code_at = 0
    out.append(0)
    code = 1
    for b in data:
        if b == 0:
            out[code_at] = code
            code_at = len(out)
            out.append(0)
            code = 1
        else:
            out.append(b)
            code += 1
            if code == 255:
                out[code_at] = code
                code_at = len(out)
                out.append(0)
                code = 1
    out[code_at] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    out = bytearray()
    idx = 0
    n = len(data)
    while idx < n:
        code = data[idx]
        if code == 0 or idx + code > n:
            raise FrameError("framing", "COBS: bad code byte")
        block = data[idx + 1: idx + code]
        if len(block) != code - 1 or 0 in block:
            raise FrameError("framing", "COBS: truncated block")
        out += block
        idx += code
        if code != 255 and idx < n:
            out.append(0)
    return bytes(out)


def encode(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    """One frame on the wire: COBS(body) + 0x00."""
    body = struct.pack("<BBH", PROTOCOL_VERSION, ftype, seq & 0xFFFF) + payload
    body += struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)
    if len(body) > MAX_BODY:
        raise ValueError(f"frame body {len(body)} B exceeds {MAX_BODY} B")
    return cobs_encode(body) + b"\x00"


@dataclass
class Frame:
    type: int
    seq: int
    payload: bytes


def decode_body(encoded: bytes) -> Frame:
    """Decode one delimiter-stripped frame; raises FrameError."""
    body = cobs_decode(encoded)
    if len(body) < 8:
        raise FrameError("framing", f"frame of {len(body)} B is shorter than header + CRC")
    crc = struct.unpack_from("<I", body, len(body) - 4)[0]
    if zlib.crc32(body[:-4]) & 0xFFFFFFFF != crc:
        raise FrameError("crc", "CRC mismatch")
    version, ftype, seq = struct.unpack_from("<BBH", body, 0)
    if version != PROTOCOL_VERSION:
        raise FrameError("framing", f"protocol version {version}, expected {PROTOCOL_VERSION}")
    return Frame(ftype, seq, body[4:-4])


class Decoder:
    """Splits a byte stream at 0x00 and decodes each frame. feed() returns Frames and FrameErrors in order;
    bytes beyond MAX_BODY without a delimiter are discarded as one framing error."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list:
        out: list = []
        for b in data:
            if b == 0:
                if self._buf:
                    try:
                        out.append(decode_body(bytes(self._buf)))
                    except FrameError as e:
                        out.append(e)
                    self._buf.clear()
            else:
                self._buf.append(b)
                if len(self._buf) > MAX_BODY * 2:
                    out.append(FrameError("framing", "frame too long without a delimiter"))
                    self._buf.clear()
        return out


# ---- payloads --------------------------------------------------------------------------------
def param_words(params: dict) -> np.ndarray:
    """The cell parameters as the PARAMS word stream (float32): PARAM_SCALARS, SOC breakpoints, temperature
    breakpoints, then the tables OCV, R0, R1, R2, tau1, tau2, M, M0, each [temperature][soc]."""
    words = [float(params[k]) for k in PARAM_SCALARS]
    words += list(np.asarray(params["soc"], float)) + list(np.asarray(params["temperature_degC"], float))
    tables = [params["ocv_V"], params["r0_Ohm"], *params["rc_r_Ohm"], *params["rc_tau_s"], params["hysteresis_V"],
              params["hysteresis_instant_V"]]
    for t in tables:
        words += list(np.asarray(t, float).ravel())
    return np.asarray(words, dtype=np.float32)


def config_payload(n_cells: int, filter: str, settings: dict, n_soc: int, n_temp: int, rc_pairs: int) -> bytes:
    head = CONFIG_HEAD.pack(n_cells, 1 if filter == "ukf" else 0, 1 if settings["gap_reinit"] else 0,
                            1 if settings["gate_predict_only"] else 0, rc_pairs, int(settings["gate_timeout_steps"]),
                            n_soc, n_temp)
    return head + np.asarray([settings[k] for k in CONFIG_FLOATS], dtype="<f4").tobytes()


def step_payload(frame: int, dt_s: float, current_A: float, temps: np.ndarray, volts: np.ndarray) -> bytes:
    return (STEP_HEAD.pack(frame & 0xFFFFFFFF, dt_s, current_A, len(temps)) + np.asarray(temps, "<f4").tobytes()
            + np.asarray(volts, "<f4").tobytes())


@dataclass
class StepResult:
    frame: int
    event: int
    n_rejected: int
    ticks: int
    figures: dict
    index_min: int
    index_max: int
    cells: np.ndarray  #: structured RESULT_CELL array


def parse_result(payload: bytes) -> StepResult:
    if len(payload) < RESULT_HEAD.size or (len(payload) - RESULT_HEAD.size) % RESULT_CELL.itemsize:
        raise ValueError(f"RESULT payload of {len(payload)} B")
    v = RESULT_HEAD.unpack_from(payload, 0)
    cells = np.frombuffer(payload, dtype=RESULT_CELL, offset=RESULT_HEAD.size)
    return StepResult(v[0], v[1], v[2], v[3], dict(zip(RESULT_FIGURES, v[4:11])), v[11], v[12], cells)


def result_payload(frame: int, event: int, n_rejected: int, ticks: int, figures: dict, index_min: int,
                   index_max: int, status: np.ndarray, soc: np.ndarray, sigma: np.ndarray) -> bytes:
    head = RESULT_HEAD.pack(frame, event, n_rejected, ticks, *[float(np.float32(figures[k])) for k in RESULT_FIGURES],
                            index_min, index_max)
    cells = np.empty(len(status), dtype=RESULT_CELL)
    cells["status"], cells["soc"], cells["soc_sigma"] = status, soc, sigma
    return head + cells.tobytes()
