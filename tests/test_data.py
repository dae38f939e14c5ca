"""loadgen.data (k6's SharedArray): rows loaded once, read-only, and per-VU / per-iteration
rows that stay unique across instances split by execution segments."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import Harness

from loadgen import ConstantArrivalRate, Scenario, SharedIterations, data
from loadgen.errors import ConfigError
from loadgen.execution.segments import ExecutionTuple, parse_sequence
from loadgen.executors import Executor


@pytest.fixture
def users(tmp_path: Path) -> Path:
    p = tmp_path / "users.csv"
    p.write_text("name,password\n" + "".join(f"u{i},p{i}\n" for i in range(40)))
    return p


def test_rows_are_loaded_once_and_read_only(users: Path, tmp_path: Path):
    rows = data.csv(users)
    assert rows is data.csv(str(users))  # cached per process
    assert len(rows) == 40 and rows[3] == {"name": "u3", "password": "p3"}
    with pytest.raises(TypeError):
        rows[0]["name"] = "x"  # type: ignore[index]
    j = tmp_path / "d.json"
    j.write_text('[{"a": [1, {"b": 2}]}, 3]')
    doc = data.json(j)
    assert doc[0]["a"][1]["b"] == 2 and doc[1] == 3
    with pytest.raises(TypeError):
        doc[0]["a"][1]["b"] = 5  # type: ignore[index]


def test_relative_paths_are_read_beside_the_calling_file(users: Path, monkeypatch):
    monkeypatch.chdir("/")
    caller = {"__file__": str(users.parent / "scenario.py"), "data": data}
    exec("rows = data.csv('users.csv')", caller)  # noqa: S102 - stands for a scenario file
    assert len(caller["rows"]) == 40


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist"),
    (b"\xff\xfe\x00bad", "is not UTF-8 text"),
    (b"", "is empty"),
    (b"name,password\n", "has a header but no rows"),
    (b"name,password\nu1\n", "row 2: 1 fields, the header has 2"),
])
def test_bad_csv_files_are_config_errors(tmp_path: Path, content, message):
    p = tmp_path / "bad.csv"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        data.csv(p)


@pytest.mark.parametrize(("content", "message"), [
    ("", "is empty"), ("{}", "must hold a JSON array"), ("[]", "holds an empty array"),
    ("[1,", "is not valid JSON"),
])
def test_bad_json_files_are_config_errors(tmp_path: Path, content, message):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(ConfigError, match=message):
        data.json(p)


async def rows_used(path: Path, executor: Executor, tup: ExecutionTuple
                    ) -> tuple[list[str], set[str]]:
    """(rows taken per iteration, rows taken per VU) by one instance."""
    rows = data.csv(path)
    per_iter: list[str] = []
    per_vu: set[str] = set()

    class S(Scenario):
        name = "s"

        async def iteration(self, vu):
            per_iter.append(rows.per_iteration(vu, wrap=False)["name"])
            per_vu.add(rows.per_vu(vu, wrap=False)["name"])
            await vu.sleep(0.01 * (vu.id % 3 + 1))  # uneven VUs: fast ones take more

    ex = executor.for_segment(tup)
    if ex is not None:
        h = Harness()
        h.run_ctx.segment = tup
        await h.run((S, ex))
    return per_iter, per_vu


@pytest.mark.parametrize("executor", [
    SharedIterations(vus=5, iterations=20),
    ConstantArrivalRate(rate=30, duration="1s", pre_allocated_vus=5),
], ids=["shared-iterations", "constant-arrival-rate"])
async def test_segments_never_share_a_row(users: Path, executor: Executor):
    seq = parse_sequence("0,1/3,2/3,1")
    taken = [await rows_used(users, executor, ExecutionTuple.of(s, seq)) for s in seq]
    iters = [n for its, _ in taken for n in its]
    assert sorted(iters) == sorted(f"u{i}" for i in range(len(iters)))  # no row twice
    vus = [v for _, v in taken]
    assert sum(len(v) for v in vus) == len(set().union(*vus))


def test_exhausted_rows_raise_when_asked_not_to_wrap(users: Path):
    rows = data.csv(users)

    class V:
        id_in_test = 41
        iteration_in_test = 40

    assert rows.per_iteration(V())["name"] == "u0"  # wraps by default, as k6's `% length`
    with pytest.raises(LookupError, match="iteration 40 has no unique row left"):
        rows.per_iteration(V(), wrap=False)
    with pytest.raises(LookupError, match="VU 40 has no unique row left"):
        rows.per_vu(V(), wrap=False)
