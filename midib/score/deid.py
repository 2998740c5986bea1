"""Is de-identification recorded, and recorded truthfully? (PS3.15 E.1.1, PS3.16 CID 7050)

A de-identified instance should say so: PatientIdentityRemoved (0012,0062) = YES,
DeidentificationMethod (0012,0063) non-empty, and DeidentificationMethodCodeSequence
(0012,0064) listing the profile and the options applied. Claiming an option that was not
honoured (e.g. Clean Pixel Data while burned-in text is still readable) is worse than
claiming nothing: downstream users trust the code sequence.
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
    """PatientIdentityRemoved=YES, a method, and codes for the basic profile + ``options``."""
    removed = (record.first(REMOVED) or "").strip().upper()
    method = " ".join(v for e in record.at(METHOD) for v in e.values).strip()
    codes = recorded_codes(record)
    shown = f"PatientIdentityRemoved={removed or '-'}; method={method[:80] or '-'}; codes={sorted(codes)}"
    wanted = {OPTION_CODES["basic"]} | {OPTION_CODES[o] for o in options if o in OPTION_CODES}
    problems = []
    if removed != "YES":
        problems.append("PatientIdentityRemoved is not YES")
    if not method and not codes:
        problems.append("no DeidentificationMethod nor its code sequence")
    missing = sorted(wanted - codes) if codes else []
    if missing:
        problems.append(f"code sequence lacks {', '.join(missing)}")
    if not problems:
        return Verdict.ok(shown)
    done = 3 - len(problems)
    return Verdict.fail("; ".join(problems), shown, score=max(done, 0) / 3)


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
