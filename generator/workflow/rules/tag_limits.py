"""Tags AWS refuses at apply time (not at plan): keys over 128 or values over 256 characters, more than 50
on a resource, keys starting with `aws:`."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule
from generator.workflow.rules.wording import short_text

RULE = rule("AVG028")
# AWS's limits on tags, the same for every service avgen tags.
MAX_TAG_KEY, MAX_TAG_VALUE, MAX_TAGS = 128, 256, 50
# Tags avgen puts on resources itself: ManagedBy and avgen:workflow on all, Name on some.
AVGEN_TAG_KEYS = frozenset({"ManagedBy", "avgen:workflow", "Name"})


def refused(tags: Mapping[str, str], place: Place, inherited: Iterable[str]) -> Iterator[Finding]:
    """`inherited`: the keys every resource gets besides `tags`."""
    for key, value in tags.items():
        name = short_text(key, 40)
        if len(key) > MAX_TAG_KEY:
            yield RULE.at(place / key, f"tag key `{name}` is {len(key)} characters long, over AWS's {MAX_TAG_KEY}",
                          "shorten the key", key=True)
        if key.lower().startswith("aws:"):
            yield RULE.at(place / key, f"tag key `{name}` starts with `aws:`, which AWS reserves",
                          "use another prefix", key=True)
        if len(str(value)) > MAX_TAG_VALUE:
            yield RULE.at(place / key, f"the value of tag `{name}` is {len(str(value))} characters long, over "
                          f"AWS's {MAX_TAG_VALUE}", "shorten the value", key=True)
    given = set(inherited)
    total = len(given | set(tags))
    if total > MAX_TAGS and len(given) <= MAX_TAGS:  # reported once, where the limit is first passed
        yield RULE.at(place, f"resources would get {total} tags (avgen's own included), over AWS's {MAX_TAGS}",
                      f"keep at most {MAX_TAGS - len(AVGEN_TAG_KEYS)} tags in all", key=True)
