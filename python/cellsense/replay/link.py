"""Byte links to a device: any pyserial URL (`/dev/ttyUSB0`, `socket://HOST:PORT`, `loop://`...), a CAN
bus through python-can (the byte stream cut into 8-byte CAN frames), and a fault injector that wraps
either (corrupts, drops or delays chosen frames, for the fault tests). Every read has a timeout."""
from __future__ import annotations

import time
from dataclasses import dataclass, field


class LinkClosed(ConnectionError):
    """The other end closed the link (e.g. the QEMU process died)."""


class Link:
    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, timeout_s: float) -> bytes:
        """Whatever arrived within timeout_s (b"" if nothing); raises LinkClosed when the peer is gone."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class SerialLink(Link):
    """A pyserial port by URL (serial.serial_for_url), opened exclusively (a second replay on the same port is
    refused as busy instead of both reading each other's answers). Only a `socket://` URL is retried until
    `open_timeout_s` (QEMU's server socket may not be listening yet); a missing or invalid port fails at once."""

    def __init__(self, url: str, baudrate: int = 115200, open_timeout_s: float = 10.0) -> None:
        import serial

        self._serial_mod = serial
        retry = url.startswith("socket://")
        deadline = time.monotonic() + (open_timeout_s if retry else 0.0)
        while True:
            try:
                self.port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05, exclusive=True)
                break
            except (serial.SerialException, OSError, ValueError) as e:
                if not retry or time.monotonic() > deadline:
                    raise ConnectionError(f"--target {url}: cannot open: {_why(e)}") from None
                time.sleep(0.05)
        self.url = url

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (self._serial_mod.SerialException, OSError) as e:
            raise LinkClosed(f"{self.url}: write failed: {e}") from None

    def read(self, timeout_s: float) -> bytes:
        self.port.timeout = max(timeout_s, 0.0)
        try:
            first = self.port.read(1)
            if not first:
                return b""
            n = self.port.in_waiting
            return first + (self.port.read(n) if n else b"")
        except (self._serial_mod.SerialException, OSError) as e:
            raise LinkClosed(f"{self.url}: {e}") from None

    def close(self) -> None:
        try:
            self.port.close()
        except Exception:  # noqa: BLE001 - closing a dead port must not mask the real error
            pass


class CanLink(Link):
    """The byte stream over CAN: host -> device on `tx_id`, device -> host on `rx_id`, 8 data bytes per CAN
    frame (the last one shorter). COBS delimiting makes the segmentation transparent."""

    def __init__(self, bus=None, interface: str = "virtual", channel: str = "cellsense-hil", tx_id: int = 0x7A0,
                 rx_id: int = 0x7A1, **kwargs) -> None:
        import can

        self._can = can
        try:
            self.bus = bus if bus is not None else can.Bus(interface=interface, channel=channel, **kwargs)
        except can.CanInterfaceNotImplementedError as e:
            known = ", ".join(sorted(can.VALID_INTERFACES))
            raise ValueError(f"--target can:{interface}:{channel}: python-can has no usable interface "
                             f"{interface!r} ({e}); its interfaces: {known}") from None
        except (can.CanError, OSError, ValueError) as e:
            raise ConnectionError(f"--target can:{interface}:{channel}: cannot open the CAN bus: {e}") from None
        self._own = bus is None
        self.tx_id, self.rx_id = tx_id, rx_id

    def write(self, data: bytes) -> None:
        for i in range(0, len(data), 8):
            self.bus.send(self._can.Message(arbitration_id=self.tx_id, data=data[i:i + 8], is_extended_id=False))

    def read(self, timeout_s: float) -> bytes:
        out = bytearray()
        deadline = time.monotonic() + timeout_s
        while True:
            msg = self.bus.recv(timeout=max(0.0, deadline - time.monotonic()) if not out else 0.0)
            if msg is None:
                return bytes(out)
            if msg.arbitration_id == self.rx_id:
                out += msg.data

    def close(self) -> None:
        if self._own:
            self.bus.shutdown()


def _why(e: Exception) -> str:
    """pyserial's reason, with a busy port said so (exclusive=True: the lock is held by another process)."""
    text = str(e)
    if "exclusively lock" in text or "Resource temporarily unavailable" in text:
        return f"the port is busy (another process has it open exclusively): {text}"
    return text


@dataclass
class FaultPlan:
    """Which STEP frames (by frame index, first transmission only) to corrupt or drop on the way to the
    device, and which answers to corrupt on the way back."""

    corrupt_tx: set[int] = field(default_factory=set)
    drop_tx: set[int] = field(default_factory=set)
    corrupt_rx: set[int] = field(default_factory=set)
    seed: int = 1

    @classmethod
    def random(cls, n_frames: int, corrupt_fraction: float = 0.0, drop_fraction: float = 0.0,
               corrupt_rx_fraction: float = 0.0, seed: int = 1) -> "FaultPlan":
        import numpy as np

        rng = np.random.default_rng(seed)
        idx = np.arange(1, n_frames)  # frame 0 (the clock) is left alone
        rng.shuffle(idx)
        a = int(round(corrupt_fraction * n_frames))
        b = int(round(drop_fraction * n_frames))
        c = int(round(corrupt_rx_fraction * n_frames))
        return cls(set(map(int, idx[:a])), set(map(int, idx[a:a + b])), set(map(int, idx[a + b:a + b + c])), seed)


class FaultyLink(Link):
    """Wraps a link; the session tells it which frame is going out (`next_frame`) and it applies the plan
    to that frame's first transmission. Corruption flips one byte of the encoded frame to another
    non-zero value (so the delimiter structure stays and the device sees exactly one bad frame)."""

    def __init__(self, inner: Link, plan: FaultPlan) -> None:
        import numpy as np

        self.inner, self.plan = inner, plan
        self._rng = np.random.default_rng(plan.seed)
        self.frame: int | None = None
        self.first_tx = False
        self.injected = {"corrupt_tx": 0, "drop_tx": 0, "corrupt_rx": 0}
        self._rx_pending = False

    def next_frame(self, frame: int | None, first: bool) -> None:
        self.frame, self.first_tx = frame, first
        self._rx_pending = first and frame in self.plan.corrupt_rx

    def _flip(self, data: bytes) -> bytes:
        b = bytearray(data)
        candidates = [i for i, x in enumerate(b) if x != 0]  # never a delimiter
        pos = candidates[int(self._rng.integers(0, len(candidates)))]
        mask = int(self._rng.integers(1, 256))
        if b[pos] ^ mask == 0:
            mask ^= 0x01 if mask != 0x01 else 0x03
        b[pos] ^= mask
        return bytes(b)

    def write(self, data: bytes) -> None:
        if self.first_tx and self.frame in self.plan.drop_tx:
            self.injected["drop_tx"] += 1
            self.first_tx = False
            return
        if self.first_tx and self.frame in self.plan.corrupt_tx:
            self.injected["corrupt_tx"] += 1
            self.first_tx = False
            data = self._flip(data)
        self.inner.write(data)

    def read(self, timeout_s: float) -> bytes:
        data = self.inner.read(timeout_s)
        if self._rx_pending and any(data):
            self._rx_pending = False
            self.injected["corrupt_rx"] += 1
            data = self._flip(data)
        return data

    def close(self) -> None:
        self.inner.close()
