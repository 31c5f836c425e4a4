"""bench/cost.py's pricing of counted calls: the units DynamoDB bills and the per-visit arithmetic."""
from __future__ import annotations

from collections import Counter

from bench import cost


def test_units_follow_dynamodbs_billing_for_small_items():
    assert cost.units("GetItem", {}) == (0.5, 0.0)
    assert cost.units("GetItem", {"ConsistentRead": True}) == (1.0, 0.0)
    assert cost.units("Query", {"IndexName": "i"}) == (0.5, 0.0)
    assert cost.units("UpdateItem", {}) == (0.0, 1.0)
    items = [{"Put": {}}, {"Update": {}}, {"ConditionCheck": {}}]
    assert cost.units("TransactWriteItems", {"TransactItems": items}) == (0.0, 6.0)
    assert cost.units("TransactGetItems", {"TransactItems": [{"Get": {}}] * 3}) == (6.0, 0.0)
    assert cost.units("DescribeTable", {}) == (0.0, 0.0)


def test_costs_scale_with_the_steps_per_visit():
    one = cost.Step("join", 1, requests=1, invocations=1, rru=2.0, wru=4.0, calls=Counter(GetItem=2),
                    stream_calls=Counter(Query=1), log_bytes=200, pushes=1)
    three = cost.Step("join", 3, requests=1, invocations=1, rru=2.0, wru=4.0, calls=Counter(GetItem=2),
                      stream_calls=Counter(Query=1), log_bytes=200, pushes=1)
    single, triple = cost.costs([one]), cost.costs([three])
    single.pop("_units"), triple.pop("_units")
    assert single["DynamoDB writes"] == 4 * 1000 / 1e6 * cost.DYNAMODB_PER_MILLION_WRU
    assert single["API Gateway REST requests"] == 1000 / 1e6 * cost.API_GATEWAY_REST_PER_MILLION
    for line in ("DynamoDB reads", "DynamoDB writes", "Lambda requests", "Lambda duration (arm64)",
                 "API Gateway REST requests", "CloudWatch Logs ingestion"):
        assert abs(triple[line] - 3 * single[line]) < 1e-12, line
    assert "SMS" not in " ".join(single)  # SMS is shown on its own line, never in the total


def test_a_visit_reads_the_board_as_often_as_the_screen_revalidates():
    assert cost.BOARD_READS == cost.SCREENS * cost.OPENING_HOURS * 3600 / cost.SCREEN_REVALIDATE_SECONDS / (
        cost.CLINIC_VISITS_PER_DAY)
