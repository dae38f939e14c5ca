"""Threshold expression grammar (k6-compat.md §3.2): operators, spacing, p(N), errors."""

from __future__ import annotations

import pytest

from loadgen.thresholds import Expression, ThresholdError, parse_expression


@pytest.mark.parametrize(
    ("source", "method", "op", "value", "sink_key"),
    [
        ("count<=3", "count", "<=", 3.0, "count"),
        ("count<3", "count", "<", 3.0, "count"),
        ("count>=3", "count", ">=", 3.0, "count"),
        ("count>3", "count", ">", 3.0, "count"),
        ("count===3", "count", "===", 3.0, "count"),
        ("count==3", "count", "==", 3.0, "count"),
        ("count!=0", "count", "!=", 0.0, "count"),
        ("count == 3", "count", "==", 3.0, "count"),
        ("max  >=  0", "max", ">=", 0.0, "max"),
        ("  rate < 0.01  ", "rate", "<", 0.01, "rate"),
        ("p(99.99) <= 1000", "p", "<=", 1000.0, "p(99.99)"),
        ("p(95)<500", "p", "<", 500.0, "p(95)"),
        ("p(99.90)<1", "p", "<", 1.0, "p(99.9)"),
        ("p(0)<1", "p", "<", 1.0, "p(0)"),
        ("p(100)<1", "p", "<", 1.0, "p(100)"),
        ("p(50.0)<1", "p", "<", 1.0, "p(50)"),
        ("avg<1e3", "avg", "<", 1000.0, "avg"),
        ("med>-2.5", "med", ">", -2.5, "med"),
        ("min>=.5", "min", ">=", 0.5, "min"),
        ("value<+7", "value", "<", 7.0, "value"),
    ],
)
def test_parses(source: str, method: str, op: str, value: float, sink_key: str) -> None:
    e = parse_expression(source)
    assert (e.method, e.operator, e.value, e.sink_key) == (method, op, value, sink_key)


def test_p9990_equals_p999() -> None:
    assert parse_expression("p(99.90)<5").sink_key == parse_expression("p(99.9) < 5").sink_key


def test_operator_search_order_is_k6s() -> None:
    # "<=" is searched before "<", "===" before "==": a later token never splits first.
    assert parse_expression("count<=1").operator == "<="
    assert parse_expression("count===1").operator == "==="
    # "=<" is not an operator: "<" splits, and "count =" is not a method.
    with pytest.raises(ThresholdError, match="failed parsing method from expression"):
        parse_expression("count =< 1")


@pytest.mark.parametrize(
    ("op", "lhs", "expected"),
    [("<", 1, True), ("<", 2, False), ("<=", 2, True), (">", 3, True), (">", 2, False),
     (">=", 2, True), ("==", 2, True), ("===", 2, True), ("==", 2.5, False), ("!=", 2, False),
     ("!=", 1, True)],
)
def test_compare(op: str, lhs: float, expected: bool) -> None:
    assert Expression("count", op, 2.0).compare(lhs) is expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        # exact k6 v1.1.0 messages (exit_bad_threshold_expr.txt and real runs)
        ("p95 < 100", "failed parsing threshold expression's \"p95 < 100\" left hand side; "
                      "reason: failed parsing method from expression"),
        ("count", "failed parsing threshold expression \"count\"; "
                  "reason: malformed threshold expression"),
        ("count<", "failed parsing threshold expression \"count<\"; "
                   "reason: malformed threshold expression"),
        ("", "failed parsing threshold expression \"\"; reason: malformed threshold expression"),
        ("count<abc", "failed parsing threshold expresion's \"count<abc\" right hand side; "
                      "reason: strconv.ParseFloat: parsing \"abc\": invalid syntax"),
        ("p(abc)<1", "failed parsing threshold expression's \"p(abc)<1\" left hand side; "
                     "reason: malformed percentile value; reason: strconv.ParseFloat: "
                     "parsing \"abc\": invalid syntax"),
        ("count=3", "failed parsing threshold expression \"count=3\"; "
                    "reason: malformed threshold expression"),
        ("avg<1_000", "failed parsing threshold expresion's \"avg<1_000\" right hand side; "
                      "reason: strconv.ParseFloat: parsing \"1_000\": invalid syntax"),
        ("avg<1e999", "failed parsing threshold expresion's \"avg<1e999\" right hand side; "
                      "reason: strconv.ParseFloat: parsing \"1e999\": value out of range"),
        ("P(95)<1", "failed parsing threshold expression's \"P(95)<1\" left hand side; "
                    "reason: failed parsing method from expression"),
        ("count>>1", "failed parsing threshold expresion's \"count>>1\" right hand side; "
                     "reason: strconv.ParseFloat: parsing \">1\": invalid syntax"),
    ],
)
def test_invalid_messages(source: str, message: str) -> None:
    with pytest.raises(ThresholdError) as info:
        parse_expression(source)
    assert str(info.value) == message


@pytest.mark.parametrize("source", ["p(101)<1", "p(-1)<1", "p(100.0001)<1", "p(nan)<1"])
def test_percentile_outside_0_100_is_rejected(source: str) -> None:
    # k6 v1.1.0 accepts these; k6 v2.1 rejects them with this message, and so do we.
    with pytest.raises(ThresholdError, match="malformed percentile value, provide a number "
                                             "between 0 and 100"):
        parse_expression(source)
