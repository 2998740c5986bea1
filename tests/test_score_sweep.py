"""The leak sweep: finds moved PHI, and does not cry wolf."""

from __future__ import annotations

import pytest

from midib.answer_key import Check
from midib.ledger import LedgerEntry
from midib.score.sweep import build_sweeper, covered, relevant_hits, scan_file_name


def entry(kind: str, value: str, vr: str = "LO", patient: str = "P1", phi_class: str = "other",
          role: str = "phi", eid: str = "") -> LedgerEntry:
    return LedgerEntry(id=eid or f"{kind}-{value}", role=role, channel="attribute", kind=kind,
                       phi_class=phi_class, instance="1.2.3", file="a.dcm", patient_id=patient,
                       study_uid="1.2", series_uid="1.2.1", modality="CT", path="(0010,0010)", vr=vr,
                       value=value)


LEDGER = [
    entry("patient_name", "DOE^JOHN", "PN", phi_class="names"),
    entry("physician_name", "KEY^DANIEL^^DR", "PN", phi_class="names"),
    entry("birth_date", "19700304", "DA", phi_class="dates"),
    entry("sex", "M", "CS"),
    entry("weight", "72", "DS"),
    entry("patient_id", "MRN123456"),
    entry("phone", "555-0134-22"),
    entry("study_uid", "1.2.826.0.1.99.5", "UI"),
    entry("institution_name", "Springfield General Hospital"),
    entry("birth_date", "19811111", "DA", patient="P2", phi_class="dates"),
    entry("station_name", "CTSCANNER01", eid="kept-station"),
]
KEY = [Check(id="k", instance="1.2.3", file="a.dcm", patient_id="P1", study_uid="", series_uid="",
             modality="CT", scope="instance", action="text_retained", path="(0008,1010)", tag_name="",
             expected={"value": "CTSCANNER01"}, ledger_ids=["kept-station"])]
SWEEPER = build_sweeper(LEDGER, KEY)


def found(text: str, vr: str = "LT") -> set[str]:
    return {SWEEPER.needle(n).whole for n, _ in SWEEPER(text, vr, "(0020,4000)")}


def test_moved_values_are_found() -> None:
    assert found("Seen by John Doe") == {"DOE^JOHN"}
    assert found("JohnDoe_CT_001") == found("doejohn") == {"DOE^JOHN"}   # run together, any case
    assert found("doe^john", "PN") == {"DOE^JOHN"}     # in a PN value, case does not matter
    assert found("born 03/04/1970, MRN: mrn123456") == {"19700304", "MRN123456"}
    assert found("call 555 0134 22") == {"555-0134-22"}
    assert found("1.2.826.0.1.99.5", "UI") == {"1.2.826.0.1.99.5"}
    assert found("ref 1.2.826.0.1.99.5 in text") == {"1.2.826.0.1.99.5"}
    assert found("springfield general hospital radiology") == {"Springfield General Hospital"}


def test_no_false_alarms() -> None:
    assert found("M") == set()                       # sex: too short
    assert found("weight 72 kg") == set()            # short plain number
    assert found("DOES NOT APPLY") == set()          # component as whole word only
    assert found("1.2.826.0.1.99.55", "UI") == set()  # another UID sharing a prefix
    assert found("1.2.840.19700304.7", "UI") == set()  # a date-like UID component is no date
    assert found("CTSCANNER01") == set()             # the key keeps it
    assert found("general") == set()                 # a fragment of a longer value
    assert found("the answer key applies", ) == set() and found("Key, Daniel") == {"KEY^DANIEL^^DR"}


def test_hits_count_only_for_the_matched_patient() -> None:
    hits = [(n, "(0008,0020)", t) for n, t in SWEEPER("19811111", "DA", "(0008,0020)")]
    assert hits and relevant_hits(hits, SWEEPER, "P1") == []
    assert relevant_hits(hits, SWEEPER, "P2") == hits
    assert relevant_hits(hits, SWEEPER, None) == hits      # unmatched outputs: any patient


def test_file_names_are_swept() -> None:
    hits = scan_file_name(SWEEPER, "DOE_JOHN/19700304/img1.dcm")
    hits = relevant_hits(hits, SWEEPER, "P1")
    assert sorted(SWEEPER.needle(n).whole for n, _, _ in hits) == ["19700304", "DOE^JOHN"]
    assert scan_file_name(SWEEPER, "P001/0001.dcm") == []


def test_covered_only_by_a_check_of_the_same_value() -> None:
    name = next(n for n in SWEEPER.needles.values() if n.whole == "DOE^JOHN")
    birth = next(n for n in SWEEPER.needles.values() if n.text == "19700304")
    assert covered(name, ["DOE^JOHN"])
    assert not covered(birth, ["DOE^JOHN"])       # a birth date moved into PatientName
    assert covered(birth, ["Born 04-Mar-1970"])


def test_device_names_are_searched_whole_not_by_word() -> None:
    """Station names are not person names: 'VARIAN-TPS2' is no leak in the retained
    Manufacturer 'Varian Medical Systems', nor 'SLICER-WS2' in the model name '3D Slicer'."""
    sweeper = build_sweeper([entry("station_name", "VARIAN-TPS2", "SH", phi_class="device"),
                             entry("station_name", "SLICER-WS2", "SH", phi_class="device")], [])

    def hits(text: str, vr: str = "LO") -> set[str]:
        return {sweeper.needle(n).whole for n, _ in sweeper(text, vr, "(0008,0070)")}

    assert hits("Varian Medical Systems") == set()
    assert hits("3D Slicer") == set()
    assert hits("varian tps2") == {"VARIAN-TPS2"}            # the whole value, any case/punctuation
    assert hits("exported from Slicer-WS2 today", "LT") == {"SLICER-WS2"}


def test_institution_name_parts_are_no_leak_but_person_name_parts_are() -> None:
    sweeper = build_sweeper([entry("institution_name", "Varian General Hospital"),
                             entry("physician_name", "VARIAN^ANNA", "PN", phi_class="names")], [])
    found_in = {sweeper.needle(n).whole for n, _ in sweeper("General Hospital", "LO", "(0008,0080)")}
    assert found_in == set()
    found_in = {sweeper.needle(n).whole for n, _ in sweeper("Dr Varian reviewed", "LT", "(0020,4000)")}
    assert found_in == {"VARIAN^ANNA"}


@pytest.mark.parametrize("text, leak", [
    ("BROWN^VIOLET^LATISHA", False),   # a random replacement sharing a common surname
    ("BROWN^DEBRA", True),             # two parts
    ("Brown, D.", True),               # family name + initial
    ("DEBRA F BROWN", True),
    ("seen by debra BROWN", True),     # a second part in lower case still counts
    ("ANONYMOUS", False),
])
def test_a_name_needs_two_parts_or_a_part_and_an_initial(text: str, leak: bool) -> None:
    sweeper = build_sweeper([entry("operator_name", "BROWN^DEBRA^F", "PN", phi_class="names")], [])
    hits = [(nid, "(0008,1050)", text) for nid, _ in sweeper(text, "PN", "(0008,1050)")]
    assert bool(relevant_hits(hits, sweeper, "P1")) is leak


@pytest.mark.parametrize("text, rows", [("PARK SCOTT", 1), ("Park, Scott", 1), ("PARK^SCOTT", 1),
                                         ("seen by Dr PARK", 1), ("ALICE SCOTT", 0)])
def test_a_name_found_once_is_one_row_when_one_of_its_parts_was_planted_alone(text: str, rows: int) -> None:
    """``PARK`` planted alone (a physician's family name) and ``PARK^SCOTT`` (the patient): a
    needle's text belongs to the first value planted with it, so "PARK SCOTT" was found as
    ``PARK`` (by its part park) and as ``PARK^SCOTT`` (by scott): two rows for one name."""
    sweeper = build_sweeper([entry("physician_name", "PARK", "PN", phi_class="names"),
                             entry("patient_name", "PARK^SCOTT", "PN", phi_class="names")], [])
    hits = [(nid, "(0008,1050)", text) for nid, _ in sweeper(text, "PN", "(0008,1050)")]
    assert len(relevant_hits(hits, sweeper, "P1")) == rows


def test_another_patient_s_identifiers_count_but_not_their_names_or_dates() -> None:
    """P1's output holding P2's MRN is a leak; P2's name may be a tool's random dummy and P2's
    birth date a shift of P1's dates by chance: neither counts against P1."""
    ledger = LEDGER + [entry("patient_name", "ROE^JANE", "PN", patient="P2", phi_class="names"),
                       entry("patient_id", "MRN9876543", patient="P2")]
    sweeper = build_sweeper(ledger, KEY)
    hits = [(n, "(0020,4000)", t) for n, t in sweeper("Roe, Jane MRN9876543 seen 1981-11-11", "LT", "(0020,4000)")]
    kept = {sweeper.needle(n).whole for n, _, _ in relevant_hits(hits, sweeper, "P1")}
    assert kept == {"MRN9876543"}
    assert {sweeper.needle(n).whole for n, _, _ in relevant_hits(hits, sweeper, "P2")} == \
        {"ROE^JANE", "MRN9876543", "19811111"}


def test_another_patient_s_whole_address_or_email_counts_but_not_one_line_of_it() -> None:
    """Outputs given other patients' addresses and e-mails scored 99.8 %: a whole address is
    no dummy written by chance; a city alone may be."""
    address = "443 Mcdaniel Stream, New Melissamouth, WA 85385"
    sweeper = build_sweeper([entry("patient_address", address, patient="P2"),
                             entry("email", "samuelkirk@example.net", patient="P2")], [])
    def kept(text: str) -> set[str]:
        hits = [(n, "x", t) for n, t in sweeper(text, "LT", "x")]
        return {sweeper.needle(n).whole for n, _, _ in relevant_hits(hits, sweeper, "P1")}
    assert kept(f"home {address}") == {address}
    assert kept("mail samuelkirk@example.net") == {"samuelkirk@example.net"}
    assert kept("moved to New Melissamouth") == set()


def test_ledger_ids_hold_midib_ids_as_bits_and_others_as_they_are() -> None:
    from midib.score.sweep import LedgerIds
    ids = LedgerIds()
    ids.update(["L0000003", "L0000017", "L12345678", "imported-7", "L12"])
    for kept in ("L0000003", "L0000017", "L12345678", "imported-7", "L12"):
        assert kept in ids
    for absent in ("L0000004", "L0000016", "L00000003", "L3", "L0000012", "imported-8", "L12345679",
                   "L9999999", "", "L", "L000000x", 17):
        assert absent not in ids, absent
    assert len(ids.bits) < 2 * 12345678 // 8 and ids.other == {"imported-7", "L12"}


def test_kept_values_stay_unsearched_whatever_the_id_spelling() -> None:
    """The sweeper's retention filter with the compact ID set: a value kept by ID (padded or
    not) is not searched; the same value under another ID that no check keeps is."""
    kept = entry("institution_name", "Springfield General Hospital", eid="L0000042")
    other = entry("institution_name", "Shelbyville Clinic", eid="imported-9")
    moved = entry("institution_name", "Capital City Hospital", eid="L0000043")
    check = Check(id="c", instance="1.2.3", file="a.dcm", patient_id="P1", study_uid="1.2",
                  series_uid="1.2.1", modality="CT", scope="instance", action="text_retained",
                  path="(0008,0080)", tag_name="InstitutionName", expected={"value": "x"},
                  category="dicom", hipaa_class="none", ledger_ids=["L0000042", "imported-9"])
    sweeper = build_sweeper([kept, other, moved], [check])
    assert not sweeper("Springfield General Hospital", "LO", "x")
    assert not sweeper("Shelbyville Clinic", "LO", "x")
    assert sweeper("Capital City Hospital", "LO", "x")


def test_a_ledger_read_with_a_short_memory_indexes_the_same_needles(mini_bench, monkeypatch) -> None:
    """Reading the ledger remembers a bounded number of values already indexed (every planted
    UID is new): forgetting must change nothing but time."""
    from midib.benchmark import Benchmark
    from midib.score import inputs
    from midib.score.sweep import Sweeper

    def needles(sweeper: Sweeper) -> tuple:
        return ({k: (n.text, n.kind, sorted(n.patients)) for k, n in sweeper.needles.items()},
                bytes(sweeper.uids._blob), sweeper.dates, sweeper.name_parts, sweeper.partners)
    whole = Sweeper()
    inputs.ledger_facts(Benchmark(mini_bench), whole)
    monkeypatch.setattr(inputs, "_SEEN_MAX", 3)
    forgetful = Sweeper()
    inputs.ledger_facts(Benchmark(mini_bench), forgetful)
    assert needles(forgetful) == needles(whole) and len(whole.needles) > 100


def test_an_identifier_written_as_a_uid_component_is_found() -> None:
    """A tool that builds new UIDs from the patient's number publishes it; a date, a shorter
    number or digits inside a longer component are a UID's own."""
    sweeper = build_sweeper([entry("patient_id", "MRN38851048"), entry("accession", "4471920036"),
                             entry("birth_date", "19700304", "DA", phi_class="dates")], [])

    def found_in(uid: str) -> set[str]:
        return {sweeper.needle(n).whole for n, _ in sweeper(uid, "UI", "(0008,0018)")}
    assert found_in("1.2.826.0.1.38851048.1") == {"MRN38851048"}
    assert found_in("2.25.4471920036") == {"4471920036"}
    assert found_in("1.2.826.0.1.388510481.1") == set()         # a longer number of its own
    assert found_in("1.2.826.0.1.19700304.1") == set()          # dates are never searched in UIDs
    assert found_in("1.2.826.0.1.3680043.8.498.1") == set()


REGROUPED = build_sweeper([entry("patient_id", "MRN38851048", patient="P3"),
                           entry("accession_number", "E78644251", patient="P3"),
                           entry("phone", "(400) 082-3654", patient="P3"),
                           entry("birth_date", "19390304", "DA", patient="P3", phi_class="dates")], [])


def regrouped(text: str, vr: str = "LT") -> set[str]:
    return {REGROUPED.needle(n).whole for n, _ in REGROUPED(text, vr, "(0020,4000)")}


@pytest.mark.parametrize("text,whole", [
    ("MRN 38-85-10-48", "MRN38851048"),          # an identifier's digits regrouped
    ("id 3885 1048 seen", "MRN38851048"),
    ("Acc E-7864-4251", "E78644251"),
    ("Pt phone 4000823654", "(400) 082-3654"),   # a phone number's digits run together
    ("call (400)0823654", "(400) 082-3654"),
    ("born 1939-Mar-04", "19390304"),            # dates in the spellings a form or a person uses
    ("DOB 1939 03 04", "19390304"),
    ("DOB 3/4/39", "19390304"),
    ("3.8851048E7", "MRN38851048"),              # the MRN as a DS number in exponent form
    ("ref 3885_1048", "MRN38851048"),            # digits cut by an underscore, a comma, a colon
    ("ref 3-8-8-5-1-0-4-8", "MRN38851048"),      # every digit apart
    ("call 4 0 0 0 8 2 3 6 5 4", "(400) 082-3654"),
    ("ref 3885,1048", "MRN38851048"),
    ("ref 3885:1048", "MRN38851048"),
    ("DOB 04031939", "19390304"),                # day, month, year run together
    ("DOB 04.03.39", "19390304"),                # two-digit years with dots, dashes, a month name
    ("DOB 03-04-39", "19390304"),
    ("DOB 04-Mar-39", "19390304"),
    ("1939.03.04", "19390304"),                  # an old-style (ACR-NEMA) DA value
])
def test_identifiers_and_dates_rewritten_are_found(text: str, whole: str) -> None:
    vr = "DS" if text[0].isdigit() and "E" in text else "DA" if text[0].isdigit() else "LT"
    assert whole in regrouped(text, vr), regrouped(text, vr)


@pytest.mark.parametrize("text", [
    "slices 38 85 10 482",           # the digits in a row, but cut where the identifier is not
    "38851 04",                      # a part of the identifier only
    "window 400 level 40 08 23 654",  # numbers apart from words
    "12 1939 03 04",                 # a row of numbers, not a date
    "version 1/2/3/4",
    "3.8851048E3",
    "version 4.3.39 of the software",   # one more number: a version, not a date
    "4 margin 39",                      # words that start like a month are no month
    "Mary 4 39",
    "at 4 Mar 20:15",                   # a month, then a time
    "10.4.3.39",
])
def test_numbers_in_a_row_that_are_not_the_identifier_are_no_leak(text: str) -> None:
    vr = "DS" if text.startswith("3.") else "LT"
    assert regrouped(text, vr) == set()


@pytest.mark.parametrize("text,vr,whole", [
    ("03.04.39", "LT", "19390304"),               # a whole value of dotted numbers: a date, not a UID
    ("400.082.3654", "LO", "(400) 082-3654"),     # a phone number written with dots
    ("19000101-19390304", "DA", "19390304"),      # a date range: its second date too
    ("DOB Mar-04-39", "LT", "19390304"),          # month first, two-digit year
])
def test_dates_and_numbers_read_as_what_they_are(text: str, vr: str, whole: str) -> None:
    assert whole in regrouped(text, vr), regrouped(text, vr)


def test_characteristics_are_not_searched_and_kept_values_only_for_their_patient() -> None:
    """``USA`` (a country) turned up in a manufacturer's address and in random compressed bytes;
    one patient's retained ``WHITE`` (ethnic group) hid another's mother's maiden name."""
    ledger = [entry("country_of_residence", "USA", patient="P7"), entry("military_rank", "SGT", patient="P7"),
              entry("ethnic_group", "OTHER", patient="P7"),
              entry("mothers_maiden_name", "WHITE", "PN", patient="P8", phi_class="names"),
              entry("station_name", "WHITE", patient="P7", eid="kept-white")]
    key = [Check(id="k", instance="1.2.3", file="a.dcm", patient_id="P7", study_uid="", series_uid="",
                 modality="CT", scope="instance", action="text_retained", path="(0008,1010)", tag_name="",
                 expected={"value": "WHITE"}, ledger_ids=["kept-white"])]
    sweeper = build_sweeper(ledger, key)
    assert sweeper("GE Healthcare, Waukesha WI USA, other sGt{ SGT", "LT", "x") == []
    hits = [(n, "x", t) for n, t in sweeper("Mother: White", "LT", "x")]
    assert {sweeper.needle(n).whole for n, _, _ in relevant_hits(hits, sweeper, "P8")} == {"WHITE"}
    assert relevant_hits(hits, sweeper, "P7") == []
    assert relevant_hits(hits, sweeper, None) == []   # no patient known (a tar of correct outputs)


def test_an_email_account_name_without_its_domain_is_found() -> None:
    sweeper = build_sweeper([entry("email", "samuelkirk@example.net", patient="P4"),
                             entry("email", "jd@example.net", patient="P4")], [])
    hit = {sweeper.needle(n).whole for n, _ in sweeper("contact samuelkirk at gmail", "LT", "x")}
    assert hit == {"samuelkirk@example.net"}
    assert sweeper("contact jd at gmail", "LT", "x") == []     # too short to name anyone
    assert sweeper("samuel kirk", "LT", "x") == []             # not the account as written


def test_a_value_cut_into_values_is_searched_joined_too() -> None:
    from midib.score.observation import swept_texts
    assert swept_texts("LO", ("SCOTT", "PARK")) == ("SCOTT", "PARK", "SCOTT PARK")
    assert swept_texts("LO", ("ONE",)) == ("ONE",)
    assert swept_texts("DA", ("20040101", "20050101")) == ("20040101", "20050101")
    assert swept_texts("US", ("1", "2")) == ("1", "2")
    assert swept_texts("DS", ("-125.3", "12.5")) == ("-125.3", "12.5")   # geometry: never one text
    sweeper = build_sweeper([entry("patient_name", "PARK^SCOTT", "PN", patient="P5", phi_class="names"),
                             entry("patient_id", "MRN56576718", patient="P5"),
                             entry("address", "443 Mcdaniel Stream, New Melissamouth, WA 85385", patient="P5")], [])
    def found(values: tuple[str, ...]) -> set[str]:
        return {sweeper.needle(n).whole for v in swept_texts("LO", values) for n, _ in sweeper(v, "LO", "x")}
    assert found(("SCOTT", "PARK")) == {"PARK^SCOTT"}
    assert found(("MRN5657", "6718")) == {"MRN56576718"}
    assert found(("443 Mcdaniel Stream", "New Melissamouth, WA 85385")) == \
        {"443 Mcdaniel Stream, New Melissamouth, WA 85385"}
    private = '(0011,"PROBE",01)'                   # a private IS: its integers run together too
    assert {sweeper.needle(n).whole for v in swept_texts("IS", ("5657", "6718"), private)
            for n, _ in sweeper(v, "IS", private)} == {"MRN56576718"}
    assert swept_texts("IS", ("5657", "6718"), "(0020,0013)") == ("5657", "6718")   # public: counts


@pytest.mark.parametrize("vr,text", [("CS", "19700304"), ("AE", "19700304"),
                                     ("UR", "https://pacs.example/q?dob=1970-03-04")])
def test_a_date_in_a_code_string_title_or_url_is_found(vr: str, text: str) -> None:
    assert found(text, vr) == {"19700304"}


def test_an_address_is_found_by_its_lines_too() -> None:
    sweeper = build_sweeper([entry("address", "443 Mcdaniel Stream, New Melissamouth, WA 85385",
                                   patient="P6")], [])
    def hit(text: str) -> bool:
        return bool(relevant_hits([(n, "x", t) for n, t in sweeper(text, "LT", "x")], sweeper, "P6"))
    assert hit("lives at 443 Mcdaniel Stream") and hit("moved from New Melissamouth")
    assert hit("zip WA 85385")
    assert not hit("Stream") and not hit("a new stream") and not hit("85385")
