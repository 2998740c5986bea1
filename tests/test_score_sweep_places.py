"""The leak sweep in places a key never names: file meta, binary blobs, lower-case full names,
identifiers stripped of their prefix. Each case is read by both walkers (raw bytes and pydicom),
which must agree."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from midib.ledger import LedgerEntry
from midib.score.observation import binary_strings, observe_pydicom, observe_raw
from midib.score.sweep import build_sweeper, id_digits

NAME, MRN, SOP = "ARELLANO^EMILY^U", "MRN38851048", "1.2.826.0.1.3680043.10.1000.1.77"


def entry(kind: str, value: str, vr: str, phi_class: str = "other") -> LedgerEntry:
    return LedgerEntry(id=f"{kind}-{value}", role="phi", channel="attribute", kind=kind,
                       phi_class=phi_class, instance="1.2.3", file="a.dcm", patient_id="P1",
                       study_uid="1.2", series_uid="1.2.1", modality="CT", path="(0010,0010)", vr=vr,
                       value=value)


SWEEPER = build_sweeper([entry("patient_name", NAME, "PN", "names"), entry("patient_id", MRN, "LO"),
                         entry("sop_uid", SOP, "UI"), entry("physician_name", "KEY^DANIEL", "PN", "names")],
                        [])


def found(text: str, vr: str = "LT") -> set[str]:
    return {SWEEPER.needle(n).whole for n, _ in SWEEPER(text, vr, "(0020,4000)")}


def test_lower_case_full_name_is_found_but_a_lone_common_word_is_not() -> None:
    assert found("seen by arellano emily today") == {NAME}
    assert found("emily arellano") == {NAME}
    assert found("applies the answer key") == set()      # one lower-case part alone: prose
    assert found("key daniel") == {"KEY^DANIEL"}          # two adjacent parts: the name


def test_two_letter_name_parts_are_found_beside_another_part_only() -> None:
    """LI^NA and WU^JONATHAN: a two-letter part counts beside a part of the same name (any
    case), never alone (``NA`` is "not applicable"), nor beside another short part where the
    name has a long one (``de la`` is prose; ``la cruz`` is DE LA CRUZ^JOSE)."""
    sweeper = build_sweeper([entry("patient_name", "LI^NA", "PN", "names"),
                             entry("physician_name", "WU^JONATHAN", "PN", "names"),
                             entry("operator_name", "DE LA CRUZ^JOSE", "PN", "names")], [])

    def hits(text: str) -> set[str]:
        return {sweeper.needle(n).whole for n, _ in sweeper(text, "LT", "(0020,4000)")}
    assert hits("Pt LI NA, 54F") == {"LI^NA"} and hits("pt li na") == {"LI^NA"}
    assert hits("seen by dr wu jonathan") == {"WU^JONATHAN"}
    assert hits("NA") == set() and hits("LI 2 NA 3") == set() and hits("Dr WU") == set()
    assert hits("Hospital de la Santa Maria") == set()
    assert "DE LA CRUZ^JOSE" in hits("signed la cruz")


def test_identifier_digits_without_their_prefix_are_found() -> None:
    assert id_digits(MRN) == "38851048"
    assert id_digits("A12345678") == "12345678"
    assert id_digits("12345") is None and id_digits("STATION-7") is None
    assert found("REQ-38851048-X") == {MRN}
    assert found("38851048", "LO") == {MRN}
    assert found("388510489") == set()                    # a longer number is another number
    assert found("1.2.840.38851048.7", "UI") == {MRN}     # a whole component of a UID
    assert found("1.2.840.388510487.7", "UI") == set()    # digits inside a component: the UID's own


def test_identifier_digits_inside_a_token_padded_or_as_a_number_are_found() -> None:
    """A tool that swaps the prefix, glues a suffix or pads the number still publishes it."""
    for written in ("ID38851048", "ANON38851048", "MRN38851048X", "0038851048", "pt id0038851048"):
        assert found(written) == {MRN}, written
    assert found("38851048", "IS") == {MRN} and found(" +0038851048", "IS") == {MRN}
    assert found("ID388510489") == set() and found("X1388510480") == set()   # other numbers
    assert found("3885104", "IS") == set() and found("38851.048", "DS") == set()
    assert found("1234567", "IS") == set()


def test_binary_strings_are_the_printable_runs() -> None:
    assert binary_strings(b"\x00\x01ARELLANO^EMILY\x00\x02ab\x03MRN38851048") == (
        "ARELLANO^EMILY", "MRN38851048")
    assert binary_strings(b"\x00\x01\x02") == ()


def _write(path: Path, implicit: bool) -> Path:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "2.25.1"
    ds.StudyDescription = "CT CHEST"
    ds.add_new(0x00110010, "LO", "PROBE")
    ds.add_new(0x00111002, "OB", b"\x00\x01" + NAME.encode() + b"\x00\x07")  # mostly binary
    ds.add_new(0x00420011, "OB", b"%PDF-1.4\x00\x9c\x8f BT (MRN38851048) Tj ET" + b"\x00" * 70_000)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = SOP                      # the original SOP UID left
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.file_meta.SourceApplicationEntityTitle = "ARELLANO EMILY"
    ds.preamble = b"II*\0" + MRN.encode() + b"\0" * (124 - len(MRN))   # e.g. a TIFF header
    pydicom.dcmwrite(path, ds, implicit_vr=implicit, little_endian=True)
    return path


@pytest.mark.parametrize("implicit", [False, True])
def test_blobs_and_file_meta_are_swept_alike_by_both_walkers(tmp_path: Path, implicit: bool) -> None:
    path = _write(tmp_path / "out.dcm", implicit)
    wanted = frozenset({"(0008,1030)"})
    raw = observe_raw(path, "out.dcm", wanted, SWEEPER)
    ref = observe_pydicom(path, "out.dcm", wanted, SWEEPER)
    assert raw is not None and not raw.error
    assert raw.hits == ref.hits
    places = {(SWEEPER.needle(n).whole, where) for n, where, _ in ref.hits}
    assert (SOP, "(0002,0003)") in places                  # meta kept the original UID
    assert (NAME, "(0002,0016)") in places                 # an AE title naming the patient
    assert (NAME, '(0011,"PROBE",02)') in places           # a name between binary bytes
    assert (MRN, "(0042,0011)") in places                  # inside an encapsulated document
    assert (MRN, "(preamble)") in places                   # the 128 bytes before DICM


def test_without_the_sweep_nothing_of_the_blobs_is_recorded(tmp_path: Path) -> None:
    path = _write(tmp_path / "out.dcm", False)
    rec = observe_raw(path, "out.dcm", frozenset({"(0008,1030)"}), None)
    assert rec is not None and rec.hits == [] and rec.at("(0008,1030)")[0].values == ("CT CHEST",)


def test_a_dicomdir_left_in_the_output_is_read_and_swept() -> None:
    """Its directory records name every patient of the media: it is an output like any other."""
    from pydicom.data import get_testdata_file

    from midib.score.observation import observe
    path = Path(get_testdata_file("DICOMDIR"))
    sweeper = build_sweeper([entry("patient_name", "DOE^PETER", "PN", "names"),
                             entry("patient_id", "77654033", "LO")], [])
    rec = observe(path, "DICOMDIR", frozenset(), sweeper)
    assert rec.error == ""
    assert {sweeper.needle(n).whole for n, _, _ in rec.hits} == {"DOE^PETER", "77654033"}


def test_random_bytes_do_not_fold_into_words() -> None:
    """Encrypted content (gdcmanon's EncryptedAttributesSequence) makes printable runs by
    chance, accented letters among them: ``N@Ë!úSÅ`` folds to ``usa``, a planted country.
    Runs that do not read as text are not swept; names, dates, phones and addresses are."""
    assert binary_strings(b"\x00N@\xcb!\xfaS\xc5\x00") == ()
    assert binary_strings(b"\x01DOE^JOHN^A^^\x02(555) 013-4422\x0319-Jan-2004\x04M\xfcller, Hans\x05") == (
        "DOE^JOHN^A^^", "(555) 013-4422", "19-Jan-2004", "Müller, Hans")
    import random
    noise = random.Random(4).randbytes(1 << 16)             # 64 KiB of encrypted-looking bytes
    from midib.score.observation import _TEXT_RUN
    assert len(binary_strings(noise)) < len(_TEXT_RUN.findall(noise)) / 5   # most random runs dropped


def test_a_date_written_with_dots_alone_in_a_value_is_a_date_not_a_uid() -> None:
    """``04.03.1939`` is digits and dots, so it was looked up as a UID, missed, and never read as
    a date: a birth date alone in a private LO scored 100 %. A real UID with a date-like run is
    still not searched for dates."""
    sweeper = build_sweeper([entry("patient_birth_date", "19390304", "DA", "dates")], [])

    def hits(text: str, vr: str = "LO") -> set[str]:
        return {sweeper.needle(n).whole for n, _ in sweeper(text, vr, '(0099,"PROBE",10)')}
    assert hits("04.03.1939") == hits("03.04.1939") == hits("1939.03.04") == {"19390304"}
    assert hits("04.03.1939", "UI") == {"19390304"}
    assert hits("1.2.840.19390304.1") == set() and hits("1.2.1939.3.4") == set()
    assert hits("05.03.1939") == set()


def test_a_phone_number_written_with_dots_is_read_as_text() -> None:
    """``400.082.3654`` is digits and dots too, but no UID has a part led by a zero."""
    sweeper = build_sweeper([entry("patient_telephone", "(400) 082-3654", "SH", "phone")], [])
    found = {sweeper.needle(n).whole for n, _ in sweeper("400.082.3654", "LO", "(0099,0010)")}
    assert found == {"(400) 082-3654"}
    assert not sweeper("400.82.3654", "LO", "(0099,0010)")   # another number
