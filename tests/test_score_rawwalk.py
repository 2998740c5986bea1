"""The raw byte walker gives exactly the pydicom path's OutputRecord, and falls back when unsure."""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file, get_testdata_files
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from midib.score import rawwalk
from midib.score.observation import FILE_BYTES, observe, observe_pydicom, observe_raw


class Everything(frozenset):
    """A wanted set holding every path: finds what the pydicom walk can report."""

    def __contains__(self, item: object) -> bool:
        return True


def recorder(log: list):
    """A scanner that logs every call and reports a hit for some texts (hits must match too)."""
    def scan(text: str, vr: str, where: str) -> list[tuple[str, str]]:
        log.append((text, vr, where))
        return [("n:" + vr, text)] if len(text) % 3 == 0 else []
    return scan


def as_tuple(rec) -> tuple:
    return rec.file, list(rec.elements.items()), rec.uids, rec.hits, rec.error


def assert_same(path: Path, require_raw: bool = False) -> None:
    """Raw and pydicom paths agree: full wanted set with a scanner, without, and a slim set."""
    full = frozenset(observe_pydicom(path, path.name, Everything(), None).elements)
    for wanted, scanning in ((full, True), (full, False), (frozenset(sorted(full)[::5]), False)):
        ref_log: list = []
        raw_log: list = []
        ref = observe_pydicom(path, path.name, wanted, recorder(ref_log) if scanning else None)
        raw = observe_raw(path, path.name, wanted, recorder(raw_log) if scanning else None)
        if raw is None:
            assert not require_raw, f"{path.name} fell back to pydicom"
            raw = observe(path, path.name, wanted, recorder(raw_log) if scanning else None)
            # a fallback adds the sweep of the file's bytes, after the walk's own hits
            assert all(h[1] == FILE_BYTES for h in raw.hits[len(ref.hits):]), path.name
            raw.hits = raw.hits[:len(ref.hits)]
            raw_log = [call for call in raw_log if call[2] != FILE_BYTES]
        assert as_tuple(raw) == as_tuple(ref), path.name
        assert raw_log == ref_log, path.name


def pydicom_files() -> list[Path]:
    return sorted(Path(f) for f in get_testdata_files() if Path(f).is_file())


@pytest.fixture(scope="module")
def bench_inputs(mini_bench: Path) -> list[Path]:
    files = sorted(p for p in (mini_bench / "input").rglob("*") if p.is_file())
    assert files
    return files


def test_same_record_on_every_generated_input(bench_inputs: list[Path]) -> None:
    for path in bench_inputs:
        assert_same(path, require_raw=True)


def test_raw_path_taken_for_generated_files(bench_inputs: list[Path]) -> None:
    """A silent fallback everywhere would pass the equivalence tests: the raw path must run."""
    taken = [observe_raw(p, p.name, frozenset(), None) is not None for p in bench_inputs]
    assert all(taken)


@pytest.mark.parametrize("path", pydicom_files(), ids=lambda p: p.name)
def test_same_record_on_pydicom_test_files(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(path)


@pytest.mark.parametrize("name", [
    "rtplan.dcm",               # implicit VR, nested sequences
    "nested_priv_SQ.dcm",       # implicit VR, private sequences in private sequences
    "CT_small.dcm",             # explicit VR, private tags
    "JPEG2000.dcm",             # encapsulated pixel data (fragments skipped)
    "UN_sequence.dcm",          # undefined-length UN read as an implicit sequence
    "ExplVR_LitEndNoMeta.dcm",  # no file meta: encoding guessed as pydicom guesses it
    "test-SR.dcm",              # deep SR content tree
    "reportsi_with_empty_number_tags.dcm",
])
def test_raw_path_handles_common_encodings(name: str) -> None:
    path = Path(get_testdata_file(name))
    assert observe_raw(path, name, frozenset(), None) is not None
    assert_same(path, require_raw=True)


@pytest.mark.parametrize("name", ["MR_small_bigendian.dcm", "image_dfl.dcm"])
def test_big_endian_and_deflated_fall_back(name: str) -> None:
    path = Path(get_testdata_file(name))
    assert observe_raw(path, name, frozenset(), None) is None
    rec = observe(path, name, frozenset({"(0010,0010)"}), None)
    assert rec.error == "" and rec.at("(0010,0010)")


def _write(ds: Dataset, path: Path, implicit: bool = False) -> Path:
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = (pydicom.uid.ImplicitVRLittleEndian if implicit
                                      else pydicom.uid.ExplicitVRLittleEndian)
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.save_as(path, enforce_file_format=True, implicit_vr=implicit, little_endian=True)
    return path


def _nested() -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.PatientName = "Müller^Jörg"
    ds.PatientID = "ID\\OTHER "
    ds.StudyDescription = ""
    ds.InstitutionName = "  General Hospital"
    ds.SliceThickness = " 1.50 "
    ds.Rows = 4
    inner = Dataset()
    inner.ReferencedSOPInstanceUID = "1.2.3.5"
    inner.add_new(0x00091010, "LO", "ACME")
    inner.add_new(0x00091001, "LO", "secret Jörg")
    seq = Sequence([inner, Dataset()])
    ds.ReferencedImageSequence = seq
    ds.add_new(0x00110010, "LO", "ACME 1.0 ")
    ds.add_new(0x00111001, "UN", b"DOE^JOHN\\2")
    ds.add_new(0x00111002, "LT", "  Seen by John Doe\\today ")
    return ds


@pytest.mark.parametrize("implicit", [False, True])
@pytest.mark.parametrize("undefined", [False, True])
def test_utf8_private_and_undefined_lengths(tmp_path: Path, implicit: bool, undefined: bool) -> None:
    ds = _nested()
    if undefined:
        ds["ReferencedImageSequence"].is_undefined_length = True
        for item in ds.ReferencedImageSequence:
            item.is_undefined_length_sequence_item = True
    path = _write(ds, tmp_path / "x.dcm", implicit)
    assert_same(path, require_raw=True)
    rec = observe(path, "x.dcm", frozenset({'(0011,"ACME 1.0",01)', "(0010,0010)"}), None)
    assert rec.first("(0010,0010)") == "Müller^Jörg"
    assert rec.at('(0011,"ACME 1.0",01)')[0].path == '(0011,"ACME 1.0",01)'


def test_iso2022_charset_falls_back_with_the_same_record(tmp_path: Path) -> None:
    ds = _nested()
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    ds.PatientName = "Yamada^Tarou"
    path = _write(ds, tmp_path / "j.dcm")
    assert observe_raw(path, "j.dcm", frozenset(), None) is None
    assert_same(path)


@pytest.fixture(scope="module")
def sample_bytes(bench_inputs: list[Path]) -> bytes:
    return bench_inputs[0].read_bytes()


@pytest.mark.parametrize("cut", [0, 10, 131, 140, 300, 700, 1500, -300, -7, -1])
def test_truncated_files_never_crash_and_match_pydicom(tmp_path: Path, sample_bytes: bytes,
                                                       cut: int) -> None:
    path = tmp_path / "cut.dcm"
    path.write_bytes(sample_bytes[:cut])
    assert_same(path)


@pytest.mark.parametrize("offset", [135, 160, 200, 333, 600, 1000])
def test_corrupted_bytes_never_crash_and_match_pydicom(tmp_path: Path, sample_bytes: bytes,
                                                       offset: int) -> None:
    data = bytearray(sample_bytes)
    data[offset:offset + 6] = b"\xff\x7f\x00Z\xff\xff"
    path = tmp_path / "bad.dcm"
    path.write_bytes(bytes(data))
    assert_same(path)


def test_a_transfer_syntax_uid_that_is_not_ascii_falls_back_and_matches_pydicom(
        tmp_path: Path, sample_bytes: bytes) -> None:
    """A byte over 0x7F in (0002,0010) once raised UnicodeDecodeError out of the walker and
    failed the whole score: the walker must hand the file to pydicom instead."""
    at = sample_bytes.index(b"1.2.840.10008.1.2")
    data = bytearray(sample_bytes)
    data[at + 2] = 0xB5
    path = tmp_path / "syntax.dcm"
    path.write_bytes(bytes(data))
    with pytest.raises(rawwalk.Fallback):
        rawwalk.raw_observe(bytes(data), path.name, frozenset(), None)
    assert_same(path)


def test_non_dicom_files_keep_their_error_strings(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("nothing to see here\n" * 20)
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    for path in (text, empty):
        rec = observe(path, path.name, frozenset(), None)
        ref = observe_pydicom(path, path.name, frozenset(), None)
        assert rec.error == ref.error
        assert rec.error.startswith(("not a DICOM dataset", "unreadable DICOM"))
    missing = observe(tmp_path / "gone.dcm", "gone.dcm", frozenset(), None)
    assert missing.error.startswith("unreadable DICOM: FileNotFoundError")


def test_raw_observe_refuses_what_it_cannot_promise() -> None:
    path = Path(get_testdata_file("MR_small_bigendian.dcm"))
    with pytest.raises(rawwalk.Fallback):
        rawwalk.raw_observe(path.read_bytes(), path.name, frozenset(), None)


def test_large_files_are_mapped_and_read_the_same(tmp_path: Path) -> None:
    """Past MAP_SIZE the file is memory-mapped (pixels never read): same record as pydicom."""
    from midib.score.observation import MAP_SIZE
    ds = _nested()
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1024, 1024, 16, 16, 15
    ds.SamplesPerPixel, ds.PixelRepresentation = 1, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(2 * 1024 * 1024)
    path = _write(ds, tmp_path / "big.dcm")
    assert path.stat().st_size > MAP_SIZE
    assert_same(path, require_raw=True)


def test_implicit_overlay_data_is_read_raw_and_kept_as_pydicom_keeps_it(tmp_path: Path) -> None:
    """(60xx,3000) is 'OB or OW': pydicom makes it OW in implicit VR, so it is never kept."""
    ds = _nested()
    ds.add_new(0x60003000, "OW", b"\x20\x41" * 64)
    ds.add_new(0x60000010, "US", 16)
    path = _write(ds, tmp_path / "ovl.dcm", implicit=True)
    wanted = frozenset({"(6000,3000)", "(6000,0010)"})
    rec = observe_raw(path, "ovl.dcm", wanted, None)
    assert rec is not None and rec.at("(6000,0010)")[0].values == ("16",)
    assert rec.at("(6000,3000)") == []
    assert_same(path, require_raw=True)


def test_a_deflated_bomb_is_reported_unreadable_not_inflated(tmp_path: Path, monkeypatch) -> None:
    """pydicom inflates a deflated dataset whole: a small file of deflated zeros would take
    gigabytes. Beyond the limit the output is recorded unreadable; a normal deflated file is read."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian
    from midib.score import observation
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(tmp_path / "ok.dcm", enforce_file_format=True)
    ds.add_new(0x00091010, "OB", b"\x00" * (4 * 2**20))
    ds.save_as(tmp_path / "bomb.dcm", enforce_file_format=True)
    assert (tmp_path / "bomb.dcm").stat().st_size < 2**20
    monkeypatch.setattr(observation, "MAX_INFLATED", 2**20)
    rec = observe(tmp_path / "bomb.dcm", "bomb.dcm", frozenset({"(0010,0010)"}), None)
    assert rec.error == "not read: the deflated dataset inflates beyond 1 MiB" and not rec.elements
    rec = observe(tmp_path / "ok.dcm", "ok.dcm", frozenset({"(0010,0010)"}), None)
    assert not rec.error and rec.first("(0010,0010)") == "CompressedSamples^CT1"


def test_a_file_of_zeros_is_not_handed_to_pydicom(tmp_path: Path, monkeypatch) -> None:
    """pydicom reads zeros as empty elements for as long as the file lasts (a sparse file of
    200 MB held the scorer for 85 s): such a file is recorded unreadable without it."""
    from midib.score import observation
    (tmp_path / "zeros.dcm").write_bytes(b"\x00" * 4096)
    monkeypatch.setattr(observation.pydicom, "dcmread", lambda *a, **k: pytest.fail("read by pydicom"))
    rec = observe(tmp_path / "zeros.dcm", "zeros.dcm", frozenset(), lambda *a: [])
    assert rec.error.startswith("not a DICOM file: no preamble")


def test_only_pixel_data_that_ends_the_file_is_left_out_of_the_byte_sweep(tmp_path: Path) -> None:
    """The PixelData tag's bytes with a made-up length placed before some text must not hide
    it; real pixel data (its value running to the end of the file) is left out."""
    from midib.score.observation import without_pixel_data
    fake = b"junk " + b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\x7f" + b"DOE^JOHN MRN123456 " * 3
    assert without_pixel_data(fake) == fake
    real = b"header DOE^JOHN " + b"\xe0\x7f\x10\x00OB\x00\x00" + (8).to_bytes(4, "little") + b"PIXELS!!"
    assert without_pixel_data(real) == b"header DOE^JOHN "
    encapsulated = b"head " + b"\xe0\x7f\x10\x00OB\x00\x00\xff\xff\xff\xff" + b"frag" + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    assert without_pixel_data(encapsulated) == b"head "


def test_zeros_after_a_preamble_are_not_handed_to_pydicom(tmp_path: Path, monkeypatch) -> None:
    from midib.score import observation
    (tmp_path / "z.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\x00" * 8192)
    monkeypatch.setattr(observation.pydicom, "dcmread", lambda *a, **k: pytest.fail("read by pydicom"))
    rec = observe(tmp_path / "z.dcm", "z.dcm", frozenset(), lambda *a: [])
    assert rec.error.startswith("not a DICOM dataset: zeros")
