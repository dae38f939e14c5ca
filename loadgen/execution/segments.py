"""k6's execution segments: one test split exactly across independent instances.

Each instance knows only its own segment (`1/3:2/3`) and the sequence all instances share
(`0,1/3,2/3,1`); from those two it computes, with exact rational maths and no coordinator,
which VUs, iterations and arrival-rate starts are its own. Whole things are dealt out
*striped* (k6-compat.md §7): the integers 0..LCD-1 (LCD: the lowest common denominator of
the segment lengths) go to the segments in a fixed interleaved pattern, bigger segments
first, and the pattern repeats. A segment's share of a value V is how many indices below V it
owns, so the shares of every segment always add up to V, and global index i (a VU, an
iteration, an arrival) belongs to exactly one instance.

The maths follows k6's `lib/execution_segment.go` (ExecutionTuple, GetStripedOffsets,
ScaleInt64, GetNewExecutionTupleFromValue); the error wording is k6's. A future coordinator
(`--workers N`) only has to hand worker i the tuple `ExecutionTuple.of(seq[i], seq)`.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property, lru_cache
from itertools import count

from loadgen.errors import ConfigError

#: The stripe pattern is built index by index, so its length (the sequence's LCD) bounds the
#: work: `0:0.1234567` would otherwise make every instance loop 10 million times at start.
MAX_LCD = 1_000_000
#: ... and building it visits up to LCD x segments steps: bounded too (about a second).
MAX_STRIPE_STEPS = 2_000_000

# an exponent of at most two digits: `1e999999999` would build a billion-digit number
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,2})?$")
_FRACTION = re.compile(r"[+-]?\d+/\d+$")
_INTEGER = re.compile(r"[+-]?\d+$")


def parse_rat(text: str) -> Fraction:
    """A percentage (`50%`), decimal (`0.5`) or fraction (`1/2`), as k6's stringToRat."""
    if text.endswith("%"):
        num = text[:-1]
        if not _INTEGER.match(num):
            raise ValueError(f"'{text}' is not a valid percentage")
        return Fraction(int(num), 100)
    if _FRACTION.match(text):
        num, den = text.split("/")
        if int(den) != 0:
            return Fraction(int(num), int(den))
    elif _DECIMAL.match(text):
        return Fraction(text)
    raise ValueError(f"'{text}' is not a valid percentage, decimal, fraction or interval value")


def float_string(r: Fraction, digits: int = 2) -> str:
    """Go's big.Rat.FloatString: fixed decimals, halves rounded away from zero."""
    scale = 10 ** digits
    q, rem = divmod(abs(r) * scale, 1)
    n = int(q) + (1 if rem >= Fraction(1, 2) else 0)
    sign = "-" if r < 0 and n else ""
    return f"{sign}{n // scale}.{n % scale:0{digits}d}"


def rat_string(r: Fraction) -> str:
    """Go's big.Rat.RatString: `1/3`, or `1` when the denominator is 1."""
    return str(r.numerator) if r.denominator == 1 else f"{r.numerator}/{r.denominator}"


@dataclass(frozen=True)
class Segment:
    """The share (start, end] of the whole test, 0 <= start < end <= 1."""

    start: Fraction
    end: Fraction

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ValueError(
                f"segment start value must be at least 0 but was {float_string(self.start)}")
        if self.start >= self.end:
            raise ValueError(f"segment start({float_string(self.start)}) must be less than its "
                             f"end({float_string(self.end)})")
        if self.end > 1:
            raise ValueError(
                f"segment end value can't be more than 1 but was {float_string(self.end)}")

    @property
    def length(self) -> Fraction:
        return self.end - self.start

    def __str__(self) -> str:
        return f"{rat_string(self.start)}:{rat_string(self.end)}"


FULL = Segment(Fraction(0), Fraction(1))


def parse_segment(text: str) -> Segment:
    """`from:to` or a single `to` (meaning `0:to`); empty means the whole test."""
    text = text or "1"
    start = Fraction(0)
    if ":" in text:
        head, text = text.split(":", 1)
        start = parse_rat(head)
    return Segment(start, parse_rat(text))


def parse_sequence(text: str) -> list[Segment]:
    """`0,1/3,2/3,1`: consecutive boundaries, each pair one segment."""
    points = text.split(",")
    if len(points) < 2:
        raise ValueError(f"at least 2 points are needed for an execution segment sequence, "
                         f"{len(points)} given")
    rats = [parse_rat(p) for p in points]
    return [Segment(a, b) for a, b in zip(rats, rats[1:], strict=False)]


def sequence_string(seq: list[Segment]) -> str:
    return ",".join([rat_string(seq[0].start)] + [rat_string(s.end) for s in seq])


def filled(seq: list[Segment], segment: Segment) -> list[Segment]:
    """The sequence completed to cover [0, 1] (k6's GetFilledExecutionSegmentSequence): with
    no sequence, the given segment plus the gaps around it."""
    out = list(seq) if seq else ([] if segment == FULL else [segment])
    if not out:
        return [FULL]
    if out[0].start != 0:
        out.insert(0, Segment(Fraction(0), out[0].start))
    if out[-1].end != 1:
        out.append(Segment(out[-1].end, Fraction(1)))
    return out


def _lcd(seq: Sequence[Segment]) -> int:
    acc = 1
    for s in seq:
        d = s.length.denominator
        acc = acc * d // _gcd(acc, d)
    return acc


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def stripes(seq: list[Segment]) -> tuple[int, tuple[tuple[int, ...], ...]]:
    """(LCD, per segment the global indices in [0, LCD) it owns); see _stripes."""
    return _stripes(tuple(seq))


@lru_cache(maxsize=64)
def _stripes(seq: tuple[Segment, ...]) -> tuple[int, tuple[tuple[int, ...], ...]]:
    """(LCD, per segment the global indices in [0, LCD) it owns), k6's interleaving.

    Segments are visited biggest first (ties in sequence order); index i goes to the first
    segment whose next pick is due: its k-th pick (k = picks so far) is due once
    i >= k * LCD / share, share being its length in LCD units."""
    lcd = _lcd(seq)
    if lcd > MAX_LCD:
        raise ValueError(f"execution segment sequence {sequence_string(list(seq))} needs a "
                         f"common denominator of {lcd}; at most {MAX_LCD} is supported "
                         "(use simpler fractions)")
    if lcd * len(seq) > MAX_STRIPE_STEPS:  # checked first: an error, never a long wait
        raise ValueError(f"execution segment sequence {sequence_string(list(seq))} has "
                         f"{len(seq)} segments over a common denominator of {lcd}; at most "
                         f"{MAX_STRIPE_STEPS} (segments x denominator) is supported (use "
                         "simpler fractions or fewer segments)")
    shares = [int(s.length * lcd) for s in seq]
    order = sorted(range(len(seq)), key=lambda i: -shares[i])
    chosen = [0] * len(seq)
    owned: list[list[int]] = [[] for _ in seq]
    for i in range(lcd):
        for rank, idx in enumerate(order):
            num, den = chosen[rank] * lcd, shares[idx]
            if i > num // den or (i == num // den and num % den == 0):
                chosen[rank] += 1
                owned[idx].append(i)
                break
    return lcd, tuple(tuple(o) for o in owned)


@dataclass(frozen=True)
class ExecutionTuple:
    """One instance's segment within the filled sequence all instances share."""

    segment: Segment
    sequence: tuple[Segment, ...]
    index: int
    lcd: int = field(compare=False)
    owned: tuple[int, ...] = field(compare=False)  # this segment's indices in [0, lcd)

    @classmethod
    def of(cls, segment: Segment = FULL, sequence: list[Segment] | None = None
           ) -> ExecutionTuple:
        seq = filled(sequence or [], segment)
        if segment not in seq:
            raise ValueError(f"provided segment {segment} can't be found in sequence "
                             f"{sequence_string(seq)}")
        lcd, owned = stripes(seq)
        i = seq.index(segment)
        return cls(segment, tuple(seq), i, lcd, owned[i])

    @property
    def is_full(self) -> bool:
        return len(self.sequence) == 1

    def scale(self, value: int) -> int:
        """This segment's share of `value` whole things (VUs, iterations, rate starts):
        how many global indices below `value` it owns."""
        if self.is_full:
            return value
        whole, rest = divmod(value, self.lcd)
        return whole * len(self.owned) + bisect_left(self.owned, rest)

    def striped_offsets(self) -> tuple[int, list[int], int]:
        """k6's GetStripedOffsets: (first owned index, the steps from each owned index to
        the next, cycling, LCD) - the compact form a coordinator can hand to a worker."""
        o = self.owned
        steps = [b - a for a, b in zip(o, o[1:], strict=False)] + [o[0] + self.lcd - o[-1]]
        return o[0], steps, self.lcd

    def global_index(self, local: int) -> int:
        """The global (test-wide) 0-based index of this instance's `local`-th thing."""
        whole, k = divmod(local, len(self.owned))
        return whole * self.lcd + self.owned[k]

    def owns(self, global_index: int) -> bool:
        return self.is_full or global_index % self.lcd in self._owned_set

    @cached_property
    def _owned_set(self) -> frozenset[int]:
        return frozenset(self.owned)

    def indices(self) -> Iterator[int]:
        """This segment's global indices, ascending, forever."""
        base = 0
        while True:
            for i in self.owned:
                yield base + i
            base += self.lcd

    def for_value(self, value: int) -> ExecutionTuple | None:
        """k6's GetNewExecutionTupleFromValue: the sequence re-cut by how `value` things were
        dealt (each segment's share of value becomes its new length), so whatever is split
        next follows the same proportions; None when this segment got none of `value`."""
        if value < 1:
            return None
        if self.is_full or value % self.lcd == 0:
            return self
        cuts: list[Segment] = []
        mine = -1
        prev = 0
        for i in range(len(self.sequence)):
            n = self.sibling(i).scale(value)
            if n == 0:
                continue
            if i == self.index:
                mine = len(cuts)
            cuts.append(Segment(Fraction(prev, value), Fraction(prev + n, value)))
            prev += n
        if mine < 0:
            return None
        lcd, owned = stripes(cuts)
        return ExecutionTuple(cuts[mine], tuple(cuts), mine, lcd, owned[mine])

    def sibling(self, i: int) -> ExecutionTuple:
        """The tuple of segment i of the same sequence."""
        if i == self.index:
            return self
        lcd, owned = _stripes(self.sequence)
        return ExecutionTuple(self.sequence[i], self.sequence, i, lcd, owned[i])

    def share_label(self) -> str:
        """The banner's `(33.33%)`."""
        return f"{float_string(self.segment.length * 100)}%"

    def __str__(self) -> str:
        return f"{self.segment} in {sequence_string(list(self.sequence))}"


FULL_TUPLE = ExecutionTuple.of()


@dataclass(frozen=True)
class NestedTuple(ExecutionTuple):
    """A share of a share: `inner` splits what `outer` owns (a `--workers` fleet that runs
    one execution segment deals it out to its workers as an even inner sequence).

    Everything is composed, never re-striped: the inner tuple numbers the outer segment's
    own things 0, 1, 2..., so the workers' shares of any value add up exactly to the outer
    segment's share (and to what one instance with that segment runs), and each of them owns
    a subset of the outer segment's test-wide indices. Re-cutting the whole sequence at the
    workers' boundaries (`0,1/4,1/2,1`) would not do: k6's striping of a finer sequence
    hands out other indices, so they would collide with another instance's."""

    outer: ExecutionTuple = field(compare=True, default=FULL_TUPLE)
    inner: ExecutionTuple = field(compare=True, default=FULL_TUPLE)

    @property
    def is_full(self) -> bool:
        return False

    def scale(self, value: int) -> int:
        return self.inner.scale(self.outer.scale(value))

    def global_index(self, local: int) -> int:
        return self.outer.global_index(self.inner.global_index(local))

    def owns(self, global_index: int) -> bool:
        # outer.scale(g): how many outer indices lie below g, i.e. g's outer-local number
        return (self.outer.owns(global_index)
                and self.inner.owns(self.outer.scale(global_index)))

    def indices(self) -> Iterator[int]:
        return (self.outer.global_index(i) for i in self.inner.indices())

    def striped_offsets(self) -> tuple[int, list[int], int]:
        raise NotImplementedError("a nested share has no single stripe pattern")

    def for_value(self, value: int) -> ExecutionTuple | None:
        """The outer split of `value`, then the inner split of the outer share of it."""
        outer = self.outer.for_value(value)
        inner = self.inner.for_value(self.outer.scale(value))
        if outer is None or inner is None:
            return None
        return nest(outer, inner)

    def sibling(self, i: int) -> ExecutionTuple:
        return nest(self.outer, self.inner.sibling(i))

    def __str__(self) -> str:
        return f"{self.segment} ({self.inner.segment} of {self.outer})"


def nest(outer: ExecutionTuple, inner: ExecutionTuple) -> ExecutionTuple:
    """`inner`'s share of what `outer` owns (see NestedTuple); plain tuples when either
    side is the whole."""
    if inner.is_full:
        return outer
    if outer.is_full:
        return inner
    lo, span = outer.segment.start, outer.segment.length
    seg = Segment(lo + inner.segment.start * span, lo + inner.segment.end * span)
    return NestedTuple(seg, outer.sequence, outer.index, outer.lcd, outer.owned, outer=outer,
                       inner=inner)


class LocalCounter:
    """Numbers this instance's things 0, 1, 2... and maps each to its test-wide index (k6's
    SegmentedIndex): VU ids, iteration numbers that stay unique across instances."""

    __slots__ = ("_tuple", "_local", "next")

    def __init__(self, tup: ExecutionTuple) -> None:
        self._tuple = tup
        self._local = count()
        #: the next thing's global 0-based index. An unsplit test (the usual case, once per
        #: iteration) numbers with the C counter itself: no Python frame per call.
        self.next: Callable[[], int] = (self._local.__next__ if tup.is_full
                                        else self._segmented)

    def _segmented(self) -> int:
        return self._tuple.global_index(next(self._local))


def resolve(segment: str | None, sequence: str | None) -> ExecutionTuple:
    """The flags `--execution-segment` / `--execution-segment-sequence` as a tuple; every
    problem raises ConfigError (exit 104) with k6's wording."""
    problems: list[str] = []
    seg, seq = FULL, None
    try:
        seg = parse_segment(segment or "")
    except ValueError as e:
        problems.append(f"--execution-segment: {e}")
    if sequence:
        try:
            seq = parse_sequence(sequence)
        except ValueError as e:
            problems.append(f"--execution-segment-sequence: {e}")
    if problems:
        raise ConfigError(problems)
    try:
        return ExecutionTuple.of(seg, seq)
    except ValueError as e:
        raise ConfigError([str(e)]) from None
