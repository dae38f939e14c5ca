"""Worker part files appended to the coordinator's raw NDJSON: Metric lines once per
output, Point lines as written, and a killed worker's cut-off last line left out."""

from __future__ import annotations

import io
from pathlib import Path

from loadgen.fleet.raw_points import _copy, part_paths, raw_targets

METRIC = b'{"type":"Metric","data":{"name":"http_reqs"},"metric":"http_reqs"}\n'
POINT = b'{"metric":"http_reqs","type":"Point","data":{"value":1,"tags":{"instance":"0"}}}\n'


def test_parts_copy_once_declared_and_whole_lines_only(tmp_path: Path):
    part = tmp_path / "raw.ndjson.worker0.part"
    part.write_bytes(METRIC + POINT + POINT + POINT[:30])  # killed mid-line
    out = io.BytesIO()
    seen = {"http_reqs"}  # the coordinator's own stream declared it already
    _copy(str(part), out, seen)
    assert out.getvalue() == POINT + POINT
    seen.clear()
    out = io.BytesIO()
    _copy(str(part), out, seen)
    assert out.getvalue() == METRIC + POINT + POINT and seen == {"http_reqs"}


def test_part_paths_sit_beside_each_raw_output(tmp_path: Path):
    outputs = [f"json={tmp_path / 'a.ndjson'}", f"json={tmp_path / 'b.ndjson'}?points=buckets",
               "json"]
    assert raw_targets(outputs) == [str(tmp_path / "a.ndjson"), "-"]
    parts = part_paths(outputs, 2)
    assert parts[1][0] == f"{tmp_path / 'a.ndjson'}.worker1.part"
    assert parts[0][1].endswith("stdout.worker0.part")
    Path(parts[0][1]).parent.rmdir()
