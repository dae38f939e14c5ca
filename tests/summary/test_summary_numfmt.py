"""JavaScript (summaries) and Go (NDJSON) number formatting, checked against k6's files."""

from __future__ import annotations

import json
import math
import re

import pytest
from summary_goldens import GOLDEN, golden_text

from loadgen.numfmt import go_float, js_fixed_no_trailing_zeros, js_number, js_to_fixed
from loadgen.summary.jsjson import js_stringify

# floatfmt.js adds these values to a counter; floatfmt_out.ndjson shows Go's 'g' formatting.
FLOATFMT_INPUT = [1, 0.5, 100000, 999999, 1000000, 1234567, 12345678.9, 0.0001, 0.00001,
                  1.5e-7, 1e21, 123.456]
FLOATFMT_GO = ["1", "0.5", "100000", "999999", "1e+06", "1.234567e+06", "1.23456789e+07",
               "0.0001", "1e-05", "1.5e-07", "1e+21", "123.456"]


def test_go_float_table_from_golden() -> None:
    raw = [m.group(1) for m in re.finditer(r'"metric":"fmt_counter".*?"value":([^,]+),',
                                           golden_text("floatfmt_out.ndjson"))]
    assert raw == FLOATFMT_GO
    assert [go_float(v) for v in FLOATFMT_INPUT] == FLOATFMT_GO


def test_every_ndjson_value_in_goldens_round_trips() -> None:
    count = 0
    for path in GOLDEN.glob("*.ndjson"):
        for m in re.finditer(r'"value":([^,}]+)', path.read_text(encoding="utf-8")):
            assert go_float(float(m.group(1))) == m.group(1), path.name
            count += 1
    assert count > 250


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0"), (-0.0, "-0"), (-1.5, "-1.5"), (1e-4, "0.0001"), (9.99999e-5, "9.99999e-05"),
     (123456.0, "123456"), (1e100, "1e+100"), (float("inf"), "+Inf"), (float("nan"), "NaN"),
     (True, "1"), (2**60, "1.152921504606847e+18")],
)
def test_go_float_edges(value: float, text: str) -> None:
    assert go_float(value) == text


def test_js_numbers_in_every_export_golden() -> None:
    count = 0
    for path in GOLDEN.glob("*summary_export.json"):
        for m in re.finditer(r'": (-?[0-9][0-9.eE+-]*)', path.read_text(encoding="utf-8")):
            assert js_number(float(m.group(1))) == m.group(1), path.name
            count += 1
    assert count > 300


@pytest.mark.parametrize(
    ("value", "text"),
    [(18.0, "18"), (0, "0"), (-0.0, "0"), (0.75, "0.75"), (1e21, "1e+21"),
     (1.0000000000000157e+21, "1.0000000000000157e+21"), (123456789012345680000.0,
                                                          "123456789012345680000"),
     (1e-6, "0.000001"), (1.5e-6, "0.0000015"), (1e-7, "1e-7"), (-2.5e-8, "-2.5e-8"),
     (9.549999999999999, "9.549999999999999"), (float("nan"), "NaN"),
     (float("-inf"), "-Infinity"), (2**53, "9007199254740992"),
     (2**53 + 1, "9007199254740992"),  # beyond 2**53 an int is rounded, as a JS number is
     (2**70, "1.1805916207174113e+21")],
)
def test_js_number_table(value: float, text: str) -> None:
    assert js_number(value) == text


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [(0.0078125, 6, "0.007813"), (2.5, 0, "3"), (1.005, 2, "1.00"), (-0.0001, 2, "-0.00"),
     (-0.0, 2, "0.00"), (243.77663312, 6, "243.776633"), (1e21, 2, "1e+21"),
     (float("nan"), 2, "NaN"), (0.5, 0, "1"), (-2.5, 0, "-3")],
)
def test_js_to_fixed_ties_away_from_zero(value: float, digits: int, text: str) -> None:
    # the first two are what k6's JS runtime printed for (0.0078125).toFixed(6), (2.5).toFixed(0)
    assert js_to_fixed(value, digits) == text


def test_fixed_no_trailing_zeros() -> None:
    assert js_fixed_no_trailing_zeros(269.4254031782767, 6) == "269.425403"
    assert js_fixed_no_trailing_zeros(18.0, 6) == "18"
    assert js_fixed_no_trailing_zeros(0.25, 6) == "0.25"
    assert js_fixed_no_trailing_zeros(-1e-9, 6) == "0"


def test_js_stringify() -> None:
    obj = {"a": 1.0, "b": [1e21, 1e-7, math.nan, math.inf, None, True], "c": {}, "d": [],
           "é\n\"\\\x01": "x\u2028\ud800"}
    compact = js_stringify(obj)
    assert compact == ('{"a":1,"b":[1e+21,1e-7,null,null,null,true],"c":{},"d":[],'
                       '"é\\n\\"\\\\\\u0001":"x\u2028\\ud800"}')
    assert js_stringify({"a": {"b": [1, 2]}, "c": []}, indent=4) == (
        '{\n    "a": {\n        "b": [\n            1,\n            2\n        ]\n    },\n'
        '    "c": []\n}')
    assert json.loads(js_stringify({"x": [0.1, 2]}, indent=2)) == {"x": [0.1, 2]}
    with pytest.raises(TypeError):
        js_stringify({"x": object()})
