"""Lambda's event filtering, for the rules the deployed template uses (a list of values, `prefix`,
`exists`): `make run` passes a stream's records through the same filter as the deployed mapping,
and the template's tests check its patterns with it."""
from __future__ import annotations

import json


def matches(pattern, value, present: bool = True) -> bool:
    """Whether `value` (a record, or a part of one) meets `pattern` (a filter's pattern, or a part)."""
    if isinstance(pattern, dict):
        return all(matches(rule, (value or {}).get(key) if isinstance(value, dict) or value is None else None,
                           isinstance(value, dict) and key in value) for key, rule in pattern.items())
    for rule in pattern:
        if isinstance(rule, dict) and "exists" in rule:
            if rule["exists"] == (present and value is not None):
                return True
        elif isinstance(rule, dict) and "prefix" in rule:
            if isinstance(value, str) and value.startswith(rule["prefix"]):
                return True
        elif value == rule:
            return True
    return False


def passes(criteria: dict, record: dict) -> bool:
    """Whether a record gets through a mapping's FilterCriteria (any of its filters)."""
    return any(matches(json.loads(f["Pattern"]), record) for f in criteria["Filters"])
