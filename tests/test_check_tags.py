"""A check's tag set is kept per VU between checks, so it must follow every change of the
VU's tags and group, and a call's own tags must never leak into the cached one."""

from __future__ import annotations

from fakes import Harness

from loadgen import PerVUIterations, Scenario


class Retagging(Scenario):
    async def iteration(self, vu):
        vu.check(1, {"ok": lambda v: v == 1})
        vu.tags["phase"] = "two"
        vu.check(1, {"ok": lambda v: v == 1})
        async with vu.group("g"):
            vu.check(0, {"ok": lambda v: v == 1})
        vu.check(1, {"ok": lambda v: v == 1}, tags={"extra": "x"})
        vu.check(1, {"ok": lambda v: v == 1})
        del vu.tags["phase"]
        vu.check(1, {"ok": lambda v: v == 1})


async def test_check_tags_follow_the_vu_tags_the_group_and_the_call():
    h = Harness()
    await h.run((Retagging, PerVUIterations(vus=1, iterations=2)))
    got = [(v, t.get("phase"), t["group"], t.get("extra"), t["check"])
           for _, v, t in h.samples("checks")]
    one = [(1.0, None, "", None, "ok"), (1.0, "two", "", None, "ok"),
           (0.0, "two", "::g", None, "ok"), (1.0, "two", "", "x", "ok"),
           (1.0, "two", "", None, "ok"), (1.0, None, "", None, "ok")]
    assert got == one + one


class EveryMutator(Scenario):
    async def iteration(self, vu):
        vu.tags.update(phase="u", other="o")
        vu.check(1, {"ok": lambda v: v == 1})
        assert vu.tags.pop("phase") == "u"
        vu.check(1, {"ok": lambda v: v == 1})
        assert vu.tags.pop("missing", None) is None
        vu.tags["phase"] = 3
        vu.check(1, {"ok": lambda v: v == 1})
        vu.tags.clear()
        vu.check(1, {"ok": lambda v: v == 1})


async def test_every_tag_change_reaches_the_next_sample_at_once():
    """The VU's sample tags are rebuilt on each change (not on the next read): each of
    vu.tags' mutators must leave them current, pop included (after it removed the key)."""
    h = Harness()
    await h.run((EveryMutator, PerVUIterations(vus=1, iterations=1)))
    got = [(t.get("phase"), t.get("other")) for _, _, t in h.samples("checks")]
    assert got == [("u", "o"), (None, "o"), ("3", "o"), (None, None)]
