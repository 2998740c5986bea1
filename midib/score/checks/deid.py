"""Check deid_recorded: the output says it was de-identified, and how (see midib.score.deid)."""

from __future__ import annotations

from midib.answer_key import Check
from midib.score.checks import Observed, register
from midib.score.deid import deid_verdict
from midib.score.verdict import Verdict


@register("deid_recorded")
def deid_recorded(check: Check, observed: Observed) -> Verdict:
    """PatientIdentityRemoved=YES and the method recorded (its text or its code sequence): the
    codes say what the tool did, so the profile's options are not required among them (a code
    claiming what was not done fails ``deid_truthful``)."""
    if observed.record is None:
        return Verdict.fail("no output matched")
    return deid_verdict(observed.record, list(check.expected.get("options", [])))
