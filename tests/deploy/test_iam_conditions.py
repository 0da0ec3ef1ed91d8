"""IAM's Condition element as the sandbox judges it (generator/aws/iam_conditions.py), and the Lineage of the
trace headers Lambda's recursive loop detection counts with (generator/aws/executor.py)."""
from __future__ import annotations

import pytest

from generator.aws.executor import RECURSION_LIMIT, lineage_key, lineage_of, trace_header
from generator.aws.iam_conditions import conditions_hold, judged_keys, request_context

OWN_PREFIXES = {"StringLike": {"s3:prefix": ["in/*", "mid/*"]}}


def listing(**parameters):
    return request_context("s3:ListBucket", {name: [value] for name, value in parameters.items()})


@pytest.mark.parametrize("prefix, allowed", [("in/", True), ("in/a/b", True), ("mid/", True), ("out/", False),
                                             ("", False), ("inx/", False), (None, False)])
def test_string_like_on_s3_prefix_allows_only_the_roles_prefixes(prefix, allowed):
    context = listing(**({"prefix": prefix} if prefix is not None else {}))
    assert conditions_hold(OWN_PREFIXES, context) is allowed


def test_a_key_the_request_lacks_fails_plain_operators_and_passes_negated_and_if_exists_ones():
    context = listing()  # no prefix parameter: no s3:prefix key
    assert not conditions_hold({"StringEquals": {"s3:prefix": ""}}, context)
    assert conditions_hold({"StringNotLike": {"s3:prefix": "out/*"}}, context)
    assert conditions_hold({"StringLikeIfExists": {"s3:prefix": "in/*"}}, context)
    assert conditions_hold({"Null": {"s3:prefix": "true"}}, context)
    assert not conditions_hold({"Null": {"s3:prefix": "false"}}, context)


def test_operators_and_several_keys():
    context = listing(prefix="In/x", delimiter="/", **{"max-keys": "100"})
    assert conditions_hold({"StringEqualsIgnoreCase": {"s3:prefix": "in/x"}}, context)
    assert not conditions_hold({"StringEquals": {"s3:prefix": "in/x"}}, context)
    assert conditions_hold({"StringNotEquals": {"s3:prefix": ["a", "b"]}}, context)
    assert conditions_hold({"StringLike": {"s3:prefix": "In/?"}}, context)
    assert conditions_hold({"NumericLessThanEquals": {"s3:max-keys": "100"}}, context)
    assert not conditions_hold({"NumericLessThan": {"s3:max-keys": 100}}, context)
    assert not conditions_hold({"StringLike": {"s3:prefix": "In/*"}, "StringEquals": {"s3:delimiter": ","}}, context)
    assert conditions_hold({"Bool": {"aws:SecureTransport": True}}, context)  # every call to AWS is TLS
    assert not conditions_hold({"Bool": {"aws:SecureTransport": "false"}}, context)


def test_keys_the_sandbox_does_not_know_are_not_judged():
    condition = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    assert conditions_hold(condition, listing(prefix="x")) and not judged_keys(condition, listing(prefix="x"))
    assert judged_keys(OWN_PREFIXES, request_context("s3:GetObject", {"prefix": ["in/"]}))
    # s3:prefix belongs to listings: another S3 request has no such key, whatever its parameters
    assert not conditions_hold(OWN_PREFIXES, request_context("s3:GetObject", {"prefix": ["in/"]}))


def test_lineage_counts_each_function_of_the_chain():
    loop, other = lineage_key("arn:aws:lambda:us-east-1:123456789012:function:loop"), "68fd508a"
    header = trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=68fd508a:5", {other: 5, loop: 3})
    assert header.startswith("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=")
    assert lineage_of(header) == {other: 5, loop: 3}
    assert lineage_of("Root=1-a-b;Lineage=1:fe460cdd:16") == {"fe460cdd": 16}
    assert lineage_of("") == {} and RECURSION_LIMIT == 16
