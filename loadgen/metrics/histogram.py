"""Bounded-memory trend sink: exact for small runs, an HDR histogram after that.

k6 keeps every trend value (its issues #763, #1068); a soak must not grow. `TrendSink` keeps
the first `exact_limit` values (10,000 by default) verbatim, so small runs give k6's exact
numbers, then folds them into HDR histograms (hdrh layout, 3 significant digits) and from
then on its memory no longer depends on the number of samples. count, sum, min and max are
always exact; sum is accumulated sequentially in arrival order, like k6.

Scale. HDR histograms record integers, trend values are floats of any magnitude and sign.
At the switch a power-of-two unit `2**e` is chosen from the data so that the smallest
non-zero |value| seen so far maps to >= 2**21 units (full precision for values down to ~1/1000
of it) while the largest stays <= 2**52 units (room for ~1000x growth; beyond 2**62 units
values are clamped into the top bucket). For HTTP timings around 0.05 ms this unit is about
0.02 ns - finer than the nanosecond timestamps the timings come from. Negative values go
to a second histogram of |value|; exact zeros are counted apart.

Error bound (HDR phase). Each order statistic is reconstructed as the midpoint of its HDR
bucket, clamped to the exact [min, max]; ranks 0 and n-1 are the exact min and max. A bucket
is at most 2**-10 of its lower edge wide, so every reconstructed order statistic is within
2**-11 (0.049%) relative of the true one when |value| >= 2**11 units (i.e. >= ~1/1000 of the
smallest non-zero |value| seen before the switch); below that the absolute error is at most
half a unit. Percentiles interpolate linearly between neighbouring ranks (k6's rule, §0.1),
so a percentile between two same-signed order statistics inherits the 0.049% bound; across
a sign change the bound is 0.049% of the larger magnitude. NaN is counted as a zero in the
histogram (min/max/sum follow numpy); +-inf are clamped to the top bucket.

This is the only module that imports `hdrh`; indices are computed for whole batches with
numpy (frexp gives the HDR bucket directly) and added with bincount into the hdrh counts
buffer, which stays a valid hdrh histogram (`encode()` works).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from loadgen.metrics.model import MetricType
from loadgen.metrics.percentiles import (
    TrendStats,
    k6_percentile_of_sorted,
    k6_percentiles_of_buckets,
)

SIG_FIGS = 3
_HALF_MAG = 10  # hdrh sub_bucket_half_count_magnitude for 3 significant figures
_SUB_BITS = _HALF_MAG + 1  # 2048 sub-buckets: values < 2**11 units are exact integers
EXACT_LIMIT = 10_000
_Y_CAP = float(2**62)
_DEFAULT_UNIT_EXP = -30  # no non-zero value seen yet: ~1e-9 of the value's unit
_MIN_HIGHEST = 2**20
_MAX_HIGHEST = 2**63 - 1
_EXACT_BELOW = float(2 << _HALF_MAG)  # below 2**11 units each integer has its own bucket
_MANT_SHIFT = 52 - _HALF_MAG  # float64 bits >> 42 = (biased exponent << 10) | top 10 bits
_BITS_OFFSET = (1023 + _SUB_BITS - 2) << _HALF_MAG


def hdr_indices(y: np.ndarray) -> np.ndarray:
    """hdrh counts index (lowest=1, 3 sig. figs) of floor(y) for float units y in [0, 2**62]."""
    _, e = np.frexp(y)
    b = np.maximum(e - _SUB_BITS, 0)
    sub = np.floor(np.ldexp(y, -b)).astype(np.int64)
    idx: np.ndarray = (b.astype(np.int64) << _HALF_MAG) + sub
    return idx


def hdr_bounds(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lowest value, width) in units of the integer range each hdrh counts index covers."""
    b = np.maximum((idx >> _HALF_MAG) - 1, 0)
    sub = np.where(idx < 2 << _HALF_MAG, idx, (idx & ((1 << _HALF_MAG) - 1)) + (1 << _HALF_MAG))
    return (sub << b).astype(np.float64), np.ldexp(1.0, b)


def hdr_midpoints(idx: np.ndarray) -> np.ndarray:
    """Midpoint (in units, float) of each index's range: the value reported for its samples."""
    low, width = hdr_bounds(idx)
    return low + width / 2


def seq_sum(start: float, values: np.ndarray) -> float:
    """start + v0 + v1 + ... left to right (k6's order; np.sum is pairwise)."""
    if len(values) == 1:
        return start + float(values[0])
    buf = np.empty(len(values) + 1)
    buf[0] = start
    buf[1:] = values
    return float(np.cumsum(buf)[-1])


def _acyclic(h: HdrHistogram) -> HdrHistogram:
    """hdrh's histogram and its encoder point at each other: a reference cycle, so a dropped
    histogram's counts array waited for a full cyclic collection, which comes rarely when few
    Python objects are allocated (a run cutting an interval every second grew ~1 MB/s until
    one came). The encoder keeps a weak proxy instead: the histogram is freed when dropped."""
    h.encoder.histogram = weakref.proxy(h)
    return h


class _Hdr:
    """One hdrh histogram of non-negative float units, grown on demand, fed with numpy."""

    __slots__ = ("h", "view", "top")

    def __init__(self, highest: int) -> None:
        self.h = _acyclic(HdrHistogram(1, min(max(highest, _MIN_HIGHEST), _MAX_HIGHEST),
                                       SIG_FIGS))
        self.view: np.ndarray = np.frombuffer(self.h.counts, dtype=np.uint64)
        self.top = -1  # highest counts index in use

    def _grow(self, need_idx: int) -> None:
        highest = int(self.h.highest_trackable_value)
        while True:  # indices never exceed that of 2**62, which _MAX_HIGHEST covers
            highest = min(highest * 4, _MAX_HIGHEST)
            h = _acyclic(HdrHistogram(1, highest, SIG_FIGS))
            if h.counts_len > need_idx or highest == _MAX_HIGHEST:
                break
        view = np.frombuffer(h.counts, dtype=np.uint64)
        view[: len(self.view)] = self.view
        h.total_count, h.min_value, h.max_value = (
            self.h.total_count, self.h.min_value, self.h.max_value)
        self.h, self.view = h, view

    def add_rebased(
        self, rel: np.ndarray, lo: int, hi: int, w: np.ndarray | None, ymin: int, ymax: int
    ) -> None:
        """Add one (or `w`) count at each index lo + rel (rel.max() == hi - lo).

        ymin/ymax (integer units) keep hdrh's own min/max bookkeeping right.
        """
        if hi >= len(self.view):
            self._grow(hi)
        bc = np.bincount(rel, weights=w)
        seg = self.view[lo : lo + len(bc)]
        seg += bc.astype(np.uint64)
        self.top = max(self.top, hi)
        h = self.h
        h.total_count += len(rel) if w is None else int(bc.sum())
        h.min_value = min(h.min_value, ymin)
        h.max_value = max(h.max_value, ymax)

    def nonzero(self) -> tuple[np.ndarray, np.ndarray]:
        idx = np.flatnonzero(self.view[: self.top + 1])
        return idx, self.view[idx].astype(np.int64)

    def copy(self) -> _Hdr:
        c = _Hdr(int(self.h.highest_trackable_value))
        c.view[:] = self.view
        c.top = self.top
        c.h.total_count, c.h.min_value, c.h.max_value = (
            self.h.total_count, self.h.min_value, self.h.max_value)
        return c

    @property
    def nbytes(self) -> int:
        return int(self.view.nbytes)


def choose_unit_exp(values: np.ndarray) -> int:
    """Exponent e of the unit 2**e (see the module docstring for the rule)."""
    a = np.abs(values[np.isfinite(values)])
    a = a[a > 0]
    if a.size == 0:
        return _DEFAULT_UNIT_EXP
    e_min = int(np.frexp(a.min())[1])
    e_max = int(np.frexp(a.max())[1])
    return max(e_min - 1 - 21, e_max - 52)


class TrendSink(TrendStats):
    """k6 trend sink with bounded memory (see the module docstring for the error bound)."""

    type = MetricType.TREND

    def __init__(self, exact_limit: int = EXACT_LIMIT, unit_exp: int | None = None) -> None:
        self.exact_limit = exact_limit
        #: a unit fixed in advance (None: chosen from the data at the switch). Sinks whose
        #: histograms are merged across processes share one, so their buckets line up and
        #: a merge is an exact sum of counts (results/interval.py).
        self.fixed_unit_exp = unit_exp
        self.count = 0
        self.sum = 0.0
        self.min = 0.0
        self.max = 0.0
        self._buf: np.ndarray | None = np.empty(min(256, max(exact_limit, 1)))
        self._sorted: np.ndarray | None = None  # exact phase: sorted copy, until the next add
        self.unit_exp: int | None = None  # set at the switch to histograms
        self._pos: _Hdr | None = None
        self._neg: _Hdr | None = None  # |value| of negative values
        self._zeros = 0
        self._buckets: tuple[np.ndarray, np.ndarray] | None = None  # HDR phase query cache
        #: +inf values: work never served (an open-model iteration dropped or interrupted).
        #: Kept apart, above every served value: percentiles that fall among them are +inf,
        #: while count, sum, min and the histograms describe the served values only.
        self.unserved = 0

    # ---- Sink protocol ------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return self.count == 0 and self.unserved == 0

    @property
    def exact(self) -> bool:
        """True while every value is still kept (results are exactly k6's)."""
        return self._buf is not None

    def add(self, value: float) -> None:
        n = self.count
        buf = self._buf
        if buf is None or n >= len(buf) or n >= self.exact_limit or value == math.inf:
            self.add_many(np.array([value], dtype=np.float64))
            return
        v = float(value)  # exact phase, room in the buffer: no numpy call overhead
        if n == 0 or v < self.min:
            self.min = v
        if n == 0 or v > self.max:
            self.max = v
        self.sum += v
        buf[n] = v
        self.count = n + 1
        self._sorted = None

    def add_many(self, values: np.ndarray) -> None:
        v = np.asarray(values, dtype=np.float64).ravel()
        k = len(v)
        if k == 0:
            return
        vmin, vmax = float(v.min()), float(v.max())
        if vmax == math.inf:
            served = v != math.inf
            self.unserved += k - int(np.count_nonzero(served))
            v = v[served]
            k = len(v)
            if k == 0:
                return
            vmin, vmax = float(v.min()), float(v.max())
        if self.count == 0 or vmin < self.min:
            self.min = vmin
        if self.count == 0 or vmax > self.max:
            self.max = vmax
        if math.isfinite(vmin) and math.isfinite(vmax):
            self.sum = self._sum(v)
        else:  # inf - inf is nan, silently, as in k6 (Go)
            with np.errstate(invalid="ignore", over="ignore"):
                self.sum = self._sum(v)
        n0 = self.count
        self.count += k
        if self._buf is not None:
            if self.count <= self.exact_limit:
                if self.count > len(self._buf):
                    grown = np.empty(min(max(self.count, 2 * len(self._buf)), self.exact_limit))
                    grown[:n0] = self._buf[:n0]
                    self._buf = grown
                self._buf[n0 : self.count] = v
                self._sorted = None
                return
            v = np.concatenate([self._buf[:n0], v])
            self._buf = self._sorted = None
            self.unit_exp = (choose_unit_exp(v) if self.fixed_unit_exp is None
                             else self.fixed_unit_exp)
        self._add_hdr(v)

    def _sum(self, v: np.ndarray) -> float:
        """Arrival order while exact (bit-identical to k6 for reproducible inputs); pairwise
        afterwards (more accurate, faster; no long run is reproducible to the bit anyway)."""
        if self._buf is not None:
            return seq_sum(self.sum, v)
        return self.sum + float(np.add.reduce(v))

    # ---- percentiles --------------------------------------------------------------------
    def percentile(self, p: float) -> float:
        return self.percentiles([p])[0]

    def percentiles(self, ps: Sequence[float]) -> list[float]:
        """k6 percentiles (§0.1) for several p in [0, 100] at once; with unserved values,
        ranked over served + unserved, +inf where the rank reaches the unserved ones."""
        if self.unserved:
            return self._with_unserved(ps)
        return self._served_percentiles(ps)

    def _with_unserved(self, ps: Sequence[float]) -> list[float]:
        n, total = self.count, self.count + self.unserved
        out: list[float] = []
        for p in ps:
            i = min(max(p / 100 * (total - 1), 0.0), total - 1.0)
            if n == 0 or i > n - 1:  # interpolating towards an unserved one
                out.append(math.inf)
            elif n == 1:
                out.append(self.min)
            else:  # the same rank among the served values alone
                out.append(self._served_percentiles([i / (n - 1) * 100])[0])
        return out

    def aggregate(self, method: str, elapsed_s: float) -> float | None:
        """max (and avg with nothing served) is +inf once anything went unserved."""
        if self.unserved and (method == "max" or method == "avg" and self.count == 0):
            return math.inf
        return super().aggregate(method, elapsed_s)

    def _served_percentiles(self, ps: Sequence[float]) -> list[float]:
        if self._buf is not None:
            if self._sorted is None:
                self._sorted = np.sort(self._buf[: self.count])
            return [k6_percentile_of_sorted(self._sorted, p) for p in ps]
        reps, counts = self.buckets()
        return k6_percentiles_of_buckets(reps, counts, self.min, self.max, ps)

    def buckets(self) -> tuple[np.ndarray, np.ndarray]:
        """Ascending (value, count) pairs: exact values while exact, HDR midpoints after."""
        if self._buf is not None:
            vals, counts = np.unique(self._buf[: self.count], return_counts=True)
            return vals, counts.astype(np.int64)
        if self._buckets is None:
            assert self.unit_exp is not None
            parts_v: list[np.ndarray] = []
            parts_c: list[np.ndarray] = []
            if self._neg is not None:
                idx, cnt = self._neg.nonzero()
                parts_v.append(-np.ldexp(hdr_midpoints(idx), self.unit_exp)[::-1])
                parts_c.append(cnt[::-1])
            if self._zeros:
                parts_v.append(np.zeros(1))
                parts_c.append(np.array([self._zeros], dtype=np.int64))
            if self._pos is not None:
                idx, cnt = self._pos.nonzero()
                parts_v.append(np.ldexp(hdr_midpoints(idx), self.unit_exp))
                parts_c.append(cnt)
            self._buckets = (
                np.concatenate(parts_v) if parts_v else np.zeros(0),
                np.concatenate(parts_c) if parts_c else np.zeros(0, dtype=np.int64),
            )
        return self._buckets

    # ---- HDR phase ----------------------------------------------------------------------
    def _add_hdr(self, v: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Add values (optionally each with a count) to the histograms."""
        self._buckets = None
        vmin = float(v.min())
        if vmin > 0:  # the common case (latencies): no masks, no copies
            self._pos = self._add_side(self._pos, v, weights, vmin, float(v.max()))
            return
        pos, neg = v > 0, v < 0
        zero = ~(pos | neg)  # NaN lands here too
        self._zeros += int(zero.sum() if weights is None else weights[zero].sum())
        for side, mask, sign in ((0, neg, -1.0), (1, pos, 1.0)):
            if not mask.any():
                continue
            a = v[mask] * sign
            w = None if weights is None else weights[mask]
            if side:
                self._pos = self._add_side(self._pos, a, w, float(a.min()), float(a.max()))
            else:
                self._neg = self._add_side(self._neg, a, w, float(a.min()), float(a.max()))

    def _add_side(
        self, h: _Hdr | None, a: np.ndarray, w: np.ndarray | None, amin: float, amax: float
    ) -> _Hdr:
        """Record positive values `a` (min amin, max amax) into `h` (created if None)."""
        e = self.unit_exp
        assert e is not None
        ymin, ymax = min(math.ldexp(amin, -e), _Y_CAP), min(math.ldexp(amax, -e), _Y_CAP)
        h = h or _Hdr(2 * int(ymax) + 2)
        if ymin >= _EXACT_BELOW and ymax < _Y_CAP:
            # HDR index straight from the float's bits: for y >= 2**11 the bucket is the
            # binary exponent and the sub-bucket the top 10 mantissa bits; scaling by 2**-e
            # only shifts the exponent field, so no float maths is needed at all.
            off = _BITS_OFFSET + (e << _HALF_MAG)
            lo, hi = ((np.array([amin, amax]).view(np.int64) >> _MANT_SHIFT) - off).tolist()
            idx = a.view(np.int64) >> _MANT_SHIFT
            idx -= off + lo
            h.add_rebased(idx, lo, hi, w, int(ymin), int(ymax))
        else:
            y = np.ldexp(a, -e)
            np.minimum(y, _Y_CAP, out=y)
            idx = hdr_indices(y)
            lo, hi = int(idx.min()), int(idx.max())
            idx -= lo
            h.add_rebased(idx, lo, hi, w, int(ymin), int(ymax))
        return h

    # ---- merge / copy -------------------------------------------------------------------
    def merge(self, other: TrendSink) -> None:
        """Add every sample of `other` (exact if both are exact and fit, else via buckets).

        Merging two histograms with different units re-bins `other`'s bucket midpoints,
        which can add one more half-bucket (0.049%) of error to the moved samples.
        """
        self.unserved += other.unserved
        if other.count == 0:
            return
        if other._buf is not None:
            s = self.sum
            self.add_many(other._buf[: other.count])
            self.sum = s + other.sum
            return
        if self._buf is not None:
            mine = self._buf[: self.count]
            self._buf = self._sorted = None
            self.unit_exp = other.unit_exp
            if len(mine):
                self._add_hdr(mine)
        if self.count == 0 or other.min < self.min:
            self.min = other.min
        if self.count == 0 or other.max > self.max:
            self.max = other.max
        self.count += other.count
        self.sum += other.sum
        self._buckets = None
        if self.unit_exp == other.unit_exp:
            self._zeros += other._zeros
            self._pos = _merge_hdr(self._pos, other._pos)
            self._neg = _merge_hdr(self._neg, other._neg)
        else:
            reps, counts = other.buckets()
            self._add_hdr(reps, counts.astype(np.float64))

    def copy(self) -> TrendSink:
        c = TrendSink(self.exact_limit, self.fixed_unit_exp)
        c.merge(self)
        return c

    @property
    def nbytes(self) -> int:
        """Bytes held in arrays (the part that could grow with samples; it does not)."""
        n = 0
        for arr in (self._buf, self._sorted):
            n += 0 if arr is None else int(arr.nbytes)
        for h in (self._pos, self._neg):
            n += 0 if h is None else h.nbytes
        if self._buckets is not None:
            n += int(self._buckets[0].nbytes + self._buckets[1].nbytes)
        return n

    def encode(self) -> str | None:
        """hdrh-encoded (base64) histogram of the positive values, in units of 2**unit_exp."""
        if self._pos is None:
            return None
        return bytes(self._pos.h.encode()).decode("ascii")


    # ---- the serialisable form (interval snapshots; HdrHistogram V2 encoding) -------------
    def to_parts(self) -> dict[str, Any]:
        """count/sum/min/max/unserved exactly, then either every value (exact phase) or the
        histograms in the standard HdrHistogram V2 compressed encoding (base64), each in
        units of 2**unit_exp: `pos` (values > 0), `neg` (|values| < 0), `zeros`."""
        out: dict[str, Any] = {"count": self.count, "sum": self.sum, "min": self.min,
                               "max": self.max, "unserved": self.unserved}
        if self._buf is not None:
            out["values"] = self._buf[: self.count].tolist()
            return out
        out["unit_exp"] = self.unit_exp
        out["zeros"] = self._zeros
        for key, h in (("pos", self._pos), ("neg", self._neg)):
            if h is not None and h.top >= 0:
                out[key] = bytes(h.h.encode()).decode("ascii")
        return out

    @classmethod
    def from_parts(cls, d: dict[str, Any], unit_exp: int | None = None) -> TrendSink:
        """The inverse of to_parts (raises ValueError/TypeError on anything malformed,
        HistogramConfigError on a histogram of another configuration)."""
        s = cls(unit_exp=unit_exp)
        values = d.get("values")
        if values is not None:
            s.add_many(np.asarray(values, dtype=np.float64))
        else:
            got = d["unit_exp"]
            if unit_exp is not None and got != unit_exp:
                raise HistogramConfigError(f"unit 2**{got}, expected 2**{unit_exp}")
            s._buf = s._sorted = None
            s.unit_exp = int(got)
            s._zeros = int(d.get("zeros", 0))
            s._pos = _decode_hdr(d.get("pos"))
            s._neg = _decode_hdr(d.get("neg"))
        s.count = int(d["count"])
        s.sum, s.min, s.max = float(d["sum"]), float(d["min"]), float(d["max"])
        s.unserved = int(d.get("unserved", 0))
        return s


class HistogramConfigError(ValueError):
    """A histogram recorded with another configuration: merging it would not be exact."""


def _decode_hdr(blob: str | None) -> _Hdr | None:
    """An hdrh V2 blob back into a _Hdr; only loadgen's configuration (lowest 1, 3
    significant figures) is accepted, so bucket indices mean the same everywhere."""
    if blob is None:
        return None
    h = _acyclic(HdrHistogram.decode(blob.encode("ascii")))
    if h.lowest_trackable_value != 1 or h.significant_figures != SIG_FIGS:
        raise HistogramConfigError(
            f"lowest {h.lowest_trackable_value}, {h.significant_figures} significant figures "
            f"(loadgen uses lowest 1, {SIG_FIGS})")
    out = _Hdr.__new__(_Hdr)
    out.h = h
    out.view = np.frombuffer(h.counts, dtype=np.uint64)
    nz = np.flatnonzero(out.view)
    out.top = int(nz[-1]) if len(nz) else -1
    return out


def _merge_hdr(mine: _Hdr | None, theirs: _Hdr | None) -> _Hdr | None:
    if theirs is None or theirs.top < 0:
        return mine
    if mine is None:
        return theirs.copy()
    idx, cnt = theirs.nonzero()
    lo, hi = int(idx[0]), int(idx[-1])
    h = theirs.h
    mine.add_rebased(idx - lo, lo, hi, cnt.astype(np.float64), h.min_value, h.max_value)
    return mine
