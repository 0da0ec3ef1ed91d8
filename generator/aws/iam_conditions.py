"""The Condition element of IAM policy statements, evaluated as AWS evaluates it, for the keys the sandbox knows.

moto applies a statement without looking at most of its conditions (it judges `StringEquals` on the few keys a
trust policy is asked with, and nothing else), so a role allowed `s3:ListBucket` only under its own prefixes
(`StringLike` on `s3:prefix`, as the generated roles are) could list any prefix. The sandbox gives each request
a context, the condition keys AWS would set for it, and judges a statement's conditions against it:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

- keys: `aws:SecureTransport` (always true: every call to AWS is TLS); for S3's bucket listings (`s3:ListBucket`,
  `s3:ListBucketVersions`) `s3:prefix`, `s3:delimiter` and `s3:max-keys`, present when the request has the
  parameter (an empty `prefix=` is the empty string; no `prefix` at all is no key), absent for every other S3
  request (https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html);
- operators: the String ones (`…Equals`, `…NotEquals`, `…EqualsIgnoreCase`, `…Like` with `*` and `?`, and their
  negations), `Bool`, `Null`, the Numeric ones; `…IfExists` and the `ForAnyValue:`/`ForAllValues:` set forms;
- a key the request lacks: false, except for negated operators, `…IfExists` and `ForAllValues:` (true), as AWS;
- several values for one key: any of them (none of them, for a negated operator); several keys or operators: all.

A condition on a key the sandbox does not know (`aws:SourceIp`, `aws:PrincipalTag/…`, …), or with an operator
it does not evaluate (Date, IpAddress, Arn), is not judged and holds, as moto had it: the sandbox says nothing
about such statements either way.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# condition key (lower case: IAM's keys are case-insensitive) → the request's values, or None: no such key in
# this request, where the sandbox knows AWS would have it for another. Keys not in the context are unknown.
Context = Mapping[str, list[str] | None]

LIST_ACTIONS = ("s3:listbucket", "s3:listbucketversions")
LIST_KEYS = {"s3:prefix": "prefix", "s3:delimiter": "delimiter", "s3:max-keys": "max-keys"}
ALWAYS: dict[str, list[str] | None] = {"aws:securetransport": ["true"]}


def request_context(action: str, querystring: Mapping[str, Any] | None) -> dict[str, list[str] | None]:
    """The condition keys of a request for `action` ("s3:ListBucket", …; "" when not known) with `querystring`
    (parameter → values, as moto parses them)."""
    context = dict(ALWAYS)
    if action.lower().startswith("s3:"):
        listing = action.lower() in LIST_ACTIONS
        for key, parameter in LIST_KEYS.items():
            values = (querystring or {}).get(parameter) if listing else None
            if values is not None and not isinstance(values, list):
                values = [values]
            context[key] = [str(value) for value in values] if values is not None else None
    return context


def _like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_NUMERIC = {"Equals": lambda a, b: a == b, "NotEquals": lambda a, b: a != b, "LessThan": lambda a, b: a < b,
            "LessThanEquals": lambda a, b: a <= b, "GreaterThan": lambda a, b: a > b,
            "GreaterThanEquals": lambda a, b: a >= b}


def _matches(operator: str, wanted: str, value: str) -> bool | None:
    """Whether one value of the request matches one value of the policy under a non-negated `operator`;
    None when the sandbox does not evaluate that operator."""
    if operator == "StringEquals":
        return value == wanted
    if operator == "StringEqualsIgnoreCase":
        return value.lower() == wanted.lower()
    if operator == "StringLike":
        return _like(wanted, value)
    if operator == "Bool":
        return value.lower() == wanted.lower()
    if operator.startswith("Numeric") and operator[len("Numeric"):] in _NUMERIC:
        a, b = _number(value), _number(wanted)
        return a is not None and b is not None and _NUMERIC[operator[len("Numeric"):]](a, b)
    return None


NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
           "StringNotLike": "StringLike"}


def condition_holds(operator: str, key: str, wanted: Any, context: Context) -> bool:
    """One operator on one key of a Condition element."""
    key = key.lower()
    if key not in context:
        return True  # a key the sandbox does not know: not judged
    values = context[key]
    wanted_values = [str(w).lower() if isinstance(w, bool) else str(w)
                     for w in (wanted if isinstance(wanted, list) else [wanted])]
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if operator == "Null":  # true: the key must be absent; false: present
        return any((w.lower() == "true") == (values is None) for w in wanted_values)
    negated = operator in NEGATED or operator == "NumericNotEquals"
    if values is None:  # not in this request
        return if_exists or negated or qualifier == "ForAllValues"
    return _values_hold(_positive(operator), negated, qualifier == "ForAllValues", wanted_values, values)


def _positive(operator: str) -> str:
    """The operator a negated one negates (StringNotLike → StringLike); others as they are."""
    return "NumericEquals" if operator == "NumericNotEquals" else NEGATED.get(operator, operator)


def _values_hold(base: str, negated: bool, for_all: bool, wanted: list[str], values: list[str]) -> bool:
    """The request's values of a key against the policy's: any of them must match one of the policy's (all of
    them, for `ForAllValues:`), none for a negated operator; true when the operator is not evaluated here."""
    answers = [[_matches(base, w, v) for w in wanted] for v in values]
    if any(answer is None for row in answers for answer in row):
        return True  # an operator the sandbox does not evaluate: not judged
    hits = [any(row) != negated for row in answers]  # each request value: matches one of the policy's values
    return all(hits) if for_all else any(hits)


def conditions_hold(condition: Mapping[str, Any] | None, context: Context) -> bool:
    """Whether a statement's Condition element holds for a request (every operator, every key)."""
    for operator, keys in (condition or {}).items():
        for key, wanted in (keys or {}).items():
            if not condition_holds(operator, key, wanted, context):
                return False
    return True


def judged_keys(condition: Mapping[str, Any] | None, context: Context) -> bool:
    """Whether every key of a Condition element is one the sandbox knows for this request."""
    return all(key.lower() in context for keys in (condition or {}).values() for key in (keys or {}))
