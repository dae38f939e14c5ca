"""--summary-export and --summary-json files, against the same k6 run's files (§1, §2.1)."""

from __future__ import annotations

import json
import re

from summary_goldens import assert_same_json, golden_json, golden_text

from loadgen.summary.export import render_summary_export, summary_export
from loadgen.summary.handle_summary import render_handle_summary_json


def test_export_of_handle_summary_data_equals_k6_export_of_same_run() -> None:
    data = golden_json("handle_summary_data.json")  # hs.js: data and export of one run
    before = json.dumps(data)
    text = render_summary_export(data)
    assert json.dumps(data) == before  # input not modified
    assert_same_json(json.loads(text), golden_json("hs_summary_export.json"))


def test_export_details() -> None:
    data = golden_json("handle_summary_data.json")
    out = summary_export(data)
    assert list(out) == ["root_group", "metrics", "setup_data"]
    assert out["metrics"]["checks"] == {"passes": 18, "fails": 6, "value": 0.75,
                                        "thresholds": {"rate>0.9": True}}  # true = failed
    assert out["metrics"]["http_reqs"] == {"count": 18, "rate": 251.92552980568732}
    assert isinstance(out["root_group"]["groups"], dict)
    assert set(out["root_group"]["groups"]["front"]["checks"]) == {"status is 200", "body ok"}


def test_export_text_format() -> None:
    text = render_summary_export(golden_json("handle_summary_data.json"))
    assert text.startswith('{\n    "root_group": {\n        "name": "",')
    assert '"count": 18,' in text and "18.0" not in text
    assert not text.endswith("\n")  # JSON.stringify output is written as is


def test_js_numbers_as_in_floatfmt_export() -> None:
    want = golden_json("floatfmt_summary_export.json")
    data = {"root_group": want["root_group"], "metrics": {
        "fmt_counter": {"type": "counter", "contains": "default",
                        "values": {"count": 1.0000000000000157e+21,
                                   "rate": 6.424629459496025e+24}}}}
    text = render_summary_export(data)
    assert '"count": 1.0000000000000157e+21' in text
    assert '"rate": 6.424629459496025e+24' in text
    assert '"count": 1.0000000000000157e+21' in golden_text("floatfmt_summary_export.json")


def test_handle_summary_json_file() -> None:
    data = golden_json("handle_summary_data.json")
    data["loadgen"] = {"version": "0.1.0", "hdr": True}
    text = render_handle_summary_json(data)
    assert json.loads(text) == data
    assert text.endswith("}\n")
    assert re.search(r'\n  "options": \{\n    "summaryTrendStats": \[\n      "avg",', text)
    assert '"count": 18,' in text and '"passes": 6,' in text
