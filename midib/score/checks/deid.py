"""Check deid_recorded: the output says it was de-identified, and how (see midib.score.deid)."""

from __future__ import annotations

from midib.answer_key import Check
from midib.score.checks import Observed, register
from midib.score.deid import deid_verdict
from midib.score.verdict import Verdict


@register("deid_recorded")
def deid_recorded(check: Check, observed: Observed) -> Verdict:
    """PatientIdentityRemoved=YES, DeidentificationMethod and codes matching the profile."""
    if observed.record is None:
        return Verdict.fail("no output matched")
    return deid_verdict(observed.record, list(check.expected.get("options", [])))
