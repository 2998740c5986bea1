"""Is de-identification recorded, and recorded truthfully? (PS3.15 E.1.1, PS3.16 CID 7050)

A de-identified instance should say so: PatientIdentityRemoved (0012,0062) = YES, and how,
in DeidentificationMethod (0012,0063) or DeidentificationMethodCodeSequence (0012,0064) (see
:func:`deid_verdict` for the rule and why). Claiming an option that was not honoured (e.g.
Clean Pixel Data while burned-in text is still readable) is worse than claiming nothing:
downstream users trust the code sequence (the ``deid_truthful`` rule, :func:`claims_contradicted`).
"""

from __future__ import annotations

from midib.score.observation import OutputRecord
from midib.score.verdict import Verdict

REMOVED = "(0012,0062)"
METHOD = "(0012,0063)"
CODES = "(0012,0064)[*](0008,0100)"
DEID_PATHS = (REMOVED, METHOD, CODES)

#: profile/option name -> CID 7050 code value
OPTION_CODES = {
    "basic": "113100", "cleanPixelData": "113101", "cleanRecogFeatOpt": "113102",
    "cleanGraphOpt": "113103", "cleanStructContOpt": "113104", "cleanDescOpt": "113105",
    "rtnLongFullDatesOpt": "113106", "rtnLongModifDatesOpt": "113107",
    "rtnPatCharsOpt": "113108", "rtnDevIdOpt": "113109", "rtnUIDsOpt": "113110",
    "rtnSafePrivOpt": "113111", "rtnInstIdOpt": "113112",
}


def recorded_codes(record: OutputRecord) -> set[str]:
    """The CID 7050 code values in the output's DeidentificationMethodCodeSequence."""
    return {v.strip() for e in record.at(CODES) for v in e.values if v.strip()}


def deid_verdict(record: OutputRecord, options: list[str]) -> Verdict:
    """``deid_recorded``: PatientIdentityRemoved=YES and a recorded method (text or codes).

    The rule, from the standard: PS3.3 (SOP Common Module) makes DeidentificationMethod (0012,0063)
    and DeidentificationMethodCodeSequence (0012,0064) each Type 1C, required when
    PatientIdentityRemoved is YES and the other is absent: YES plus either one records the
    de-identification. PS3.15 E.1.1 asks for CID 7050 codes "corresponding to the profile and
    options used", i.e. what the tool did, not what the benchmark's profile asks for. So the
    codes a tool lists are not compared with ``options`` (the profile the key was derived under,
    kept in the signature for the check's record): an option the tool did not apply already
    fails its own checks, and also demanding its code here penalised it twice and rewarded
    recording less (no code sequence at all passed, accurate codes failed). Codes that claim
    what was not done are judged by the separate ``deid_truthful`` rule
    (:func:`claims_contradicted`). Partial credit: one half per requirement met.
    """
    removed = (record.first(REMOVED) or "").strip().upper()
    method = " ".join(v for e in record.at(METHOD) for v in e.values).strip()
    codes = recorded_codes(record)
    shown = f"PatientIdentityRemoved={removed or '-'}; method={method[:80] or '-'}; codes={sorted(codes)}"
    problems = []
    if removed != "YES":
        problems.append("PatientIdentityRemoved is not YES")
    if not method and not codes:
        problems.append("no DeidentificationMethod nor its code sequence")
    if not problems:
        return Verdict.ok(shown)
    return Verdict.fail("; ".join(problems), shown, score=(2 - len(problems)) / 2)


def claims_contradicted(record: OutputRecord, failed_actions: set[str]) -> str:
    """Why the recorded method is untruthful ('' if it is not), given the actions that failed."""
    codes = recorded_codes(record)
    if OPTION_CODES["cleanPixelData"] in codes and "pixels_hidden" in failed_actions:
        return "claims Clean Pixel Data (113101) but burned-in text is still readable"
    if OPTION_CODES["cleanGraphOpt"] in codes and "overlay_hidden" in failed_actions:
        return "claims Clean Graphics (113103) but overlay text is still present"
    if OPTION_CODES["cleanDescOpt"] in codes and "text_cleaned" in failed_actions:
        return "claims Clean Descriptors (113105) but free text still holds PHI"
    return ""
