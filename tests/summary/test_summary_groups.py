"""Group/check tree: paths, md5 ids, first-seen order, name-merged flat checks (§1.2)."""

from __future__ import annotations

from summary_goldens import golden_json

from loadgen.summary.export import summary_export
from loadgen.summary.groups import GroupTree, path_id


def test_ids_are_md5_of_paths() -> None:
    assert path_id("") == "d41d8cd98f00b204e9800998ecf8427e"
    assert path_id("::front") == "6972d1500632a99e8640138dbf1dc09e"
    assert path_id("::front::nested::is 404") == "cd38f26aa103d72ab155ee7fd85d13d8"


def test_recording_reproduces_k6_tree() -> None:
    tree = GroupTree()
    for _ in range(6):  # basic.js, in code order
        tree.group("::front")
        tree.record("::front", "status is 200", True)
        tree.record("::front", "body ok", True)
        tree.group("::front::nested")
        tree.record("::front::nested", "is 404", True)
        tree.record("::front::nested", "is 200 (fails)", False)
    want = golden_json("handle_summary_data.json")["root_group"]
    assert tree.to_data() == want
    legacy = summary_export({"root_group": tree.to_data(), "metrics": {}})["root_group"]
    assert legacy == golden_json("basic_summary_export.json")["root_group"]


def test_setup_group_and_root_checks() -> None:
    tree = GroupTree()
    tree.record("", "top", True)
    tree.record("::setup", "in setup", False)
    data = tree.to_data()
    assert data["checks"][0]["path"] == "::top"
    assert data["groups"][0]["path"] == "::setup"
    assert data["groups"][0]["checks"][0]["path"] == "::setup::in setup"


def test_flat_checks_merge_by_name_in_first_seen_order() -> None:
    tree = GroupTree()
    tree.record("::b", "same", True)
    tree.record("::a", "other", True)
    tree.record("::a", "same", False)
    tree.add_check("", "same", passes=3, fails=0)
    flat = [(c.name, c.passes, c.fails) for c in tree.flat_checks()]
    assert flat == [("same", 4, 1), ("other", 1, 0)]
    assert [g["name"] for g in tree.to_data()["groups"]] == ["b", "a"]


def test_from_data_accepts_both_shapes() -> None:
    hs = golden_json("handle_summary_data.json")["root_group"]
    export = golden_json("basic_summary_export.json")["root_group"]
    a, b = GroupTree.from_data(hs), GroupTree.from_data(export)
    assert a.to_data() == hs
    assert [(c.name, c.passes, c.fails) for c in a.flat_checks()] == [
        ("status is 200", 6, 0), ("body ok", 6, 0), ("is 404", 6, 0), ("is 200 (fails)", 0, 6)]
    assert sorted(c.name for c in b.flat_checks()) == sorted(c.name for c in a.flat_checks())
