"""Issue #12 items 2 and 6: one estimator used from two threads at once is refused with a clear RuntimeError
(never a silently different result or a torn covariance); separate estimators still run in parallel;
copy.copy / copy.deepcopy give an independent estimator (its own C++ core) in the same state."""
from __future__ import annotations

import copy
import pickle
import threading
import time

import numpy as np
import pytest

from cellsense import Estimator, make_estimator
from cellsense.estimators.soh import SohEstimator

MSG = "estimator is in use by another thread; use one estimator per thread"


def _log(n: int, soc0: float = 0.9, seed: int = 3):
    """A plausible drive log for chen2020 (~5 Ah): pulses and rests, voltage from a crude OCV - IR."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    i = np.repeat(rng.choice([0.0, 1.0, 2.5, -1.0], size=n // 30 + 1), 30)[:n]
    soc = soc0 - np.cumsum(i) / (5.0 * 3600)
    v = 3.3 + 0.85 * soc - 0.03 * i + 0.002 * rng.standard_normal(n)
    return t, i, v, np.full(n, 25.0)


def _make(kind: str, **kw):
    if kind == "soh":
        return SohEstimator("chen2020", initial_soc=0.9, **kw)
    if kind == "spme":
        return make_estimator("chen2020_spme", initial_soc=0.9, **kw)
    return Estimator("chen2020", initial_soc=0.9, **kw)


# ---- item 6: copies are independent ----------------------------------------------------------------------
@pytest.mark.parametrize("kind,filt,dtype", [("ecm", "ekf", "float64"), ("ecm", "ukf", "float32"),
                                             ("soh", "ekf", "float64"), ("soh", "ukf", "float32"),
                                             ("spme", "ekf", "float64")])
@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy])
def test_copy_is_independent_and_continues_identically(kind, filt, dtype, how):
    t, i, v, th = _log(3000)
    a = _make(kind, filter=filt, dtype=dtype)
    a.run(t[:1500], i[:1500], v[:1500], th[:1500])
    b = how(a)
    assert type(b) is type(a) and b._impl is not a._impl
    assert b.state_bytes() == a.state_bytes()
    before = a.state_bytes()
    rb = b.run(t[1500:], i[1500:], v[1500:], th[1500:])
    assert a.state_bytes() == before, "running the copy changed the original (shared C++ state)"
    ra = a.run(t[1500:], i[1500:], v[1500:], th[1500:])
    assert a.state_bytes() == b.state_bytes(), "the copy does not continue exactly as the original"
    np.testing.assert_array_equal(ra.soc, rb.soc)
    np.testing.assert_array_equal(ra.status_code, rb.status_code)


def test_copy_before_first_sample_keeps_the_ocv_start():
    a = Estimator("chen2020")  # no initial SOC: starts from the first rested voltage
    b = copy.copy(a)
    t, i, v, th = _log(200)
    ra, rb = a.run(t, i, v, th), b.run(t, i, v, th)
    np.testing.assert_array_equal(ra.soc, rb.soc)


def test_copy_does_not_share_later_settings_edits_with_the_core():
    a = _make("ecm")
    b = copy.deepcopy(a)
    assert b.settings is not a.settings or b.settings == a.settings


def test_pickle_refused_with_a_hint():
    with pytest.raises(TypeError, match="save_state"):
        pickle.dumps(_make("ecm"))


# ---- item 2: one estimator, two threads ------------------------------------------------------------------
def _inside(est, timeout: float = 10.0) -> bool:
    """Wait until another thread is inside `est` (its lock is taken)."""
    lock = est._use_lock()
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        if lock.acquire(blocking=False):
            lock.release()
            time.sleep(0)
            continue
        return True
    return False


@pytest.mark.parametrize("kind", ["ecm", "soh"])
@pytest.mark.parametrize("second", ["run", "step", "covariance", "state", "soc", "save_state", "restore_state",
                                    "state_bytes", "copy"])
def test_second_thread_gets_a_clear_error_and_the_run_is_unchanged(kind, second):
    if kind == "soh" and second == "step":
        pytest.skip("SohEstimator has no step()")
    t, i, v, th = _log(400_000)
    ref = _make(kind)
    r_ref = ref.run(t, i, v, th)
    est = _make(kind)
    saved = _make(kind).save_state()
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("r", est.run(t, i, v, th)))
    worker.start()
    assert _inside(est), "the run never started"
    calls = {"run": lambda: est.run(t[:10], i[:10], v[:10], th[:10]), "step": lambda: est.step(1.0, 0.0, 3.7, 25.0),
             "covariance": lambda: est.covariance, "state": lambda: est.state, "soc": lambda: est.soc,
             "save_state": est.save_state, "restore_state": lambda: est.restore_state(saved),
             "state_bytes": est.state_bytes, "copy": lambda: copy.copy(est)}
    with pytest.raises(RuntimeError, match=MSG):
        calls[second]()
    worker.join()
    np.testing.assert_array_equal(out["r"].soc, r_ref.soc)
    assert est.state_bytes() == ref.state_bytes()
    # and once the run is over the estimator is usable from any thread again
    est.run(t[-1:] + 1.0, i[-1:], v[-1:], th[-1:])


def test_two_threads_one_estimator_no_silent_mixing():
    """The issue's probe: two threads calling run() on one estimator. Exactly one run happens; the other
    raises; the result equals a single-threaded run (it used to differ run to run)."""
    t, i, v, th = _log(400_000)
    ref = _make("ecm")
    r_ref = ref.run(t, i, v, th)
    est = _make("ecm")
    results, errors = [], []
    barrier = threading.Barrier(2)

    def go():
        barrier.wait()
        try:
            results.append(est.run(t, i, v, th))
        except RuntimeError as e:
            errors.append(str(e))

    ths = [threading.Thread(target=go) for _ in range(2)]
    for x in ths:
        x.start()
    for x in ths:
        x.join()
    assert len(results) + len(errors) == 2 and all(e == MSG for e in errors)
    if len(results) == 1:  # overlapped (the usual case): one run, bit-identical to the reference
        np.testing.assert_array_equal(results[0].soc, r_ref.soc)
        assert est.state_bytes() == ref.state_bytes()


def test_separate_estimators_run_in_parallel():
    t, i, v, th = _log(400_000)
    refs = [_make("ecm").run(t, i, v, th) for _ in range(2)]
    ests = [_make("ecm") for _ in range(2)]
    spans, results = [None, None], [None, None]
    barrier = threading.Barrier(2)

    def go(k):
        barrier.wait()
        t0 = time.perf_counter()
        results[k] = ests[k].run(t, i, v, th)
        spans[k] = (t0, time.perf_counter())

    ths = [threading.Thread(target=go, args=(k,)) for k in range(2)]
    for x in ths:
        x.start()
    for x in ths:
        x.join()
    for k in range(2):
        np.testing.assert_array_equal(results[k].soc, refs[k].soc)
    (a0, a1), (b0, b1) = spans
    assert a0 < b1 and b0 < a1, "the two runs did not overlap in time (the GIL is released in run())"


def test_docstring_documents_the_rule():
    assert "one estimator per thread" in (Estimator.__doc__ or "")
