"""A device in Python: the replay firmware's protocol state machine (hil/firmware/replay/main.cpp) over any
Link, stepping the float32 pack core of this package. It stands in for a rig on the CAN target's tests
(python-can's virtual bus) and exercises the host session without QEMU. Runs in a thread; stops by itself."""
from __future__ import annotations

import struct
import threading

import numpy as np

from ..estimators.base import core_class
from . import framing as fr
from .link import Link


class SimDevice:
    MAX_CELLS = 512

    def __init__(self, link: Link, name: str = "python-sim") -> None:
        self.link, self.name = link, name
        self.dec = fr.Decoder()
        self.last_seq = 0
        self.last_answer: bytes | None = None
        self.cfg: dict | None = None
        self.core = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.hang = False

    def start(self) -> "SimDevice":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)

    def _send(self, ftype: int, seq: int, payload: bytes, cache: bool = True) -> None:
        data = fr.encode(ftype, seq, payload)
        if cache:
            self.last_answer = data
        self.link.write(data)

    def _loop(self) -> None:
        self._send(fr.T_READY, 0, self._ready())
        self.last_answer = None
        while not self._stop.is_set():
            data = self.link.read(0.05)
            for f in self.dec.feed(data):
                if self.hang:
                    continue
                self._on(f)

    def _ready(self) -> bytes:
        name = self.name.encode()
        return fr.READY_HEAD.pack(fr.PROTOCOL_VERSION, self.MAX_CELLS, fr.MAX_BODY, 0, 0, 0, len(name)) + name

    def _on(self, f) -> None:
        expected = (self.last_seq + 1) & 0xFFFF
        if isinstance(f, fr.FrameError):
            self._send(fr.T_NAK, expected, fr.NAK.pack(fr.NAK_CRC if f.kind == "crc" else fr.NAK_FRAMING, expected), False)
            return
        if f.type == fr.T_HELLO:
            self.last_seq, self.cfg, self.core = f.seq, None, None
            self._send(fr.T_READY, f.seq, self._ready())
            return
        if self.last_answer is not None and f.seq == self.last_seq:
            self.link.write(self.last_answer)
            return
        if f.seq != expected:
            self._send(fr.T_NAK, expected, fr.NAK.pack(fr.NAK_SEQUENCE, expected), False)
            return
        self._handle(f)
        self.last_seq = f.seq

    def _ack(self, seq: int, result: int = 0, detail: int = 0) -> None:
        self._send(fr.T_ACK, seq, fr.ACK.pack(result, detail))

    def _handle(self, f) -> None:
        p = f.payload
        if f.type == fr.T_CONFIG:
            h = fr.CONFIG_HEAD.unpack_from(p, 0)
            vals = np.frombuffer(p, "<f4", offset=fr.CONFIG_HEAD.size).astype(float)
            s = dict(zip(fr.CONFIG_FLOATS, vals))
            s.update(gap_reinit=float(h[2]), gate_predict_only=float(h[3]), gate_timeout_steps=float(h[4]))
            self.cfg = {"n_cells": h[0], "filter": "ukf" if h[1] else "ekf", "rc": h[4], "ns": h[6], "nt": h[7],
                        "settings": s, "words": np.zeros(10 + h[6] + h[7] + (4 + 2 * h[4]) * h[6] * h[7], np.float32),
                        "cells": np.zeros((h[0], 3)), "sensor": np.zeros(h[0], np.int32)}
            s["gate_timeout_steps"] = float(h[5])
            self._ack(f.seq)
        elif f.type == fr.T_PARAMS and self.cfg:
            first, count = fr.PARAMS_HEAD.unpack_from(p, 0)
            self.cfg["words"][first:first + count] = np.frombuffer(p, "<f4", offset=fr.PARAMS_HEAD.size)
            self._ack(f.seq)
        elif f.type == fr.T_CELLS and self.cfg:
            first, count = fr.CELLS_HEAD.unpack_from(p, 0)
            for i in range(count):
                c, r, z, ts = fr.CELL_ENTRY.unpack_from(p, fr.CELLS_HEAD.size + i * fr.CELL_ENTRY.size)
                self.cfg["cells"][first + i] = (c, r, z)
                self.cfg["sensor"][first + i] = ts
            self._ack(f.seq)
        elif f.type == fr.T_START and self.cfg:
            c = self.cfg
            w = c["words"].astype(float)
            ns, nt, nrc = c["ns"], c["nt"], c["rc"]
            params = dict(zip(fr.PARAM_SCALARS, w[:10]))
            params["soc"] = w[10:10 + ns]
            params["temperature_degC"] = w[10 + ns:10 + ns + nt]
            tabs = w[10 + ns + nt:].reshape(-1, nt, ns)
            params.update(ocv_V=tabs[0], r0_Ohm=tabs[1], rc_r_Ohm=list(tabs[2:2 + nrc]),
                          rc_tau_s=list(tabs[2 + nrc:2 + 2 * nrc]), hysteresis_V=tabs[2 + 2 * nrc],
                          hysteresis_instant_V=tabs[3 + 2 * nrc])
            s = c["settings"]
            cls = core_class("Pack", c["filter"], "float32", nrc)
            try:
                self.core = cls(params, c["cells"][:, 0], c["cells"][:, 1], c["cells"][:, 2], s,
                                {"alpha": s["ukf_alpha"], "beta": s["ukf_beta"], "kappa": s["ukf_kappa"]})
                self._ack(f.seq)
            except ValueError:
                self._ack(f.seq, 2, 0)
        elif f.type == fr.T_STEP:
            if self.core is None:
                self._send(fr.T_NAK, f.seq, fr.NAK.pack(fr.NAK_NOT_CONFIGURED, f.seq), False)
                return
            frame, dt, cur, ns = fr.STEP_HEAD.unpack_from(p, 0)
            temps = np.frombuffer(p, "<f4", count=ns, offset=fr.STEP_HEAD.size).astype(float)
            volts = np.frombuffer(p, "<f4", offset=fr.STEP_HEAD.size + 4 * ns).astype(float)
            o = self.core.run(np.array([dt]), np.array([cur]), volts[None, :], temps[None, :], self.cfg["sensor"])
            figs = {k: o[k][0] for k in fr.RESULT_FIGURES}
            self._send(fr.T_RESULT, f.seq, fr.result_payload(frame, int(o["event"][0]), int(o["n_rejected"][0]), 0, figs,
                                                             int(o["index_min"][0]), int(o["index_max"][0]),
                                                             o["status"][0], o["soc"][0], o["soc_sigma"][0]))
        elif f.type == fr.T_DEBUG and p == struct.pack("<B", fr.DEBUG_HANG):
            self.hang = True
        else:
            self._send(fr.T_NAK, f.seq, fr.NAK.pack(fr.NAK_BAD_MESSAGE, f.seq), False)
