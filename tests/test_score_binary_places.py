"""PHI in the binary places a header-only sweep skips: the comment and application segments of
compressed pixel data (a JPEG COM, an EXIF block, a JPEG 2000 comment, a JP2 XML box), public
numeric data (an overlay plane, a LUT, in explicit and implicit VR) and a private value too
large to read as one. Each must be a failed sweep row naming where it was found; a correct
de-identification with real overlays and LUTs must still score 100 %.

The benchmark is the hand-made one of :mod:`tests.test_score_scorer`.
"""

from __future__ import annotations

import struct
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian, JPEGLSLossless

from midib.score import codestreams
from midib.score.observation import FILE_BYTES, observe_pydicom
from midib.score.rawwalk import raw_observe
from tests.test_score_scorer import _leaky, _sweep_failures, hand_made_bench, make_run, score


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hand_made_bench(tmp_path_factory.mktemp("handbench"))


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _with_jpeg_segment(ds: Dataset, segment: bytes) -> None:
    """Compress losslessly (the pixels stay those of the source: matching still pairs it) and
    put ``segment`` right after the start-of-image marker of every frame."""
    ds.compress(JPEGLSLossless, generate_instance_uid=False)
    frames = pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1)))
    ds.PixelData = pydicom.encaps.encapsulate([f[:2] + segment + f[2:] for f in frames])


@pytest.mark.parametrize("segment", ids=["COM", "EXIF"], argvalues=[
    _segment(0xFE, b"Acquired for John Doe"),                                  # COM
    _segment(0xE1, b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08Artist\x00DOE^JOHN\x00"),  # APP1, EXIF-like
])
def test_a_name_in_a_codestream_header_is_found(bench: Path, tmp_path: Path, segment: bytes) -> None:
    found = _sweep_failures(score(bench, make_run(bench, tmp_path / "run",
                                                  _leaky(lambda ds: _with_jpeg_segment(ds, segment))))[0])
    at_pixels = found[found.path == "(7fe0,0010)"]
    assert len(at_pixels) >= 2 and at_pixels.reason.str.contains("DOE").all(), found[["path", "reason"]].to_string()


def test_a_compressed_output_without_header_text_is_clean(bench: Path, tmp_path: Path) -> None:
    """The sweep reads headers, not the coded image: a JPEG-LS output of a correct
    de-identification (a comment without PHI in it) scores 100 %."""
    run = make_run(bench, tmp_path / "run", _leaky(lambda ds: _with_jpeg_segment(ds, _segment(0xFE, b"midib test coder"))))
    rows, _ = score(bench, run)
    assert rows.passed.all(), rows[~rows.passed][["path", "reason"]].to_string()


def test_only_header_segments_are_read_never_the_coded_data() -> None:
    image_data = b"\x12John Doe\x34" * 10                   # text-like bytes after the scan header
    jpeg = (b"\xff\xd8" + _segment(0xE0, b"JFIF\x00") + _segment(0xFE, b"note one")
            + b"\xff\xff" + _segment(0xDB, b"\x00" * 65) + _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
            + image_data + _segment(0xFE, b"after the scan") + b"\xff\xd9")
    assert codestreams.header_payloads(jpeg) == [b"JFIF\x00", b"note one"]
    j2k = (b"\xff\x4f\xff\x51" + struct.pack(">H", 4) + b"\x00\x00" + b"\xff\x64" + struct.pack(">H", 14)
           + b"\x00\x01Kakadu-9.9" + b"\xff\x90" + struct.pack(">H", 10) + b"\x00" * 8 + image_data)
    assert codestreams.header_payloads(j2k) == [b"Kakadu-9.9"]
    box = lambda kind, body: struct.pack(">L", 8 + len(body)) + kind + body
    jp2 = (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + box(b"ftyp", b"jp2 \x00\x00\x00\x00jp2 ")
           + box(b"xml ", b"<patient>Doe</patient>") + box(b"jp2c", j2k))
    assert codestreams.header_payloads(jp2) == [b"<patient>Doe</patient>", b"Kakadu-9.9"]
    assert codestreams.header_payloads(image_data) == []        # not a codestream: nothing
    assert codestreams.header_payloads(b"\xff\xd8\xff\xfe\x00") == []   # truncated: nothing, no error


def test_a_truncated_or_hostile_fragment_list_never_raises() -> None:
    item = lambda data: b"\xfe\xff\x00\xe0" + struct.pack("<L", len(data)) + data
    good = item(b"") + item(b"\xff\xd8" + _segment(0xFE, b"first"))
    assert codestreams.pixel_header_payloads(good + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00", 0) == [b"first"]
    assert codestreams.pixel_header_payloads(good[:-3], 0) == [b"fi"]    # cut: what is there
    huge = b"\xfe\xff\x00\xe0" + struct.pack("<L", 0xFFFFFF00) + b"\xff\xd8" + _segment(0xFE, b"big")
    assert codestreams.pixel_header_payloads(huge, 0) == [b"big"]       # a length past the end


def test_what_a_fragment_holds_besides_its_header_and_pixels_is_offered() -> None:
    """A COM after the scan or past a megabyte of padding segments, bytes after EOI, a filled
    basic offset table, a fragment of text: no decoder reads them, every reader of the bytes
    does. Coded data (text-like bytes between the scan header and EOI) stays unread."""
    item = lambda data: b"\xfe\xff\x00\xe0" + struct.pack("<L", len(data)) + data
    coded = b"\x12John Doe\x34" * 10
    scan = _segment(0xDB, b"\x00" * 65) + _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    late = b"\xff\xd8" + scan + coded + _segment(0xFE, b"after the scan") + b"\xff\xd9"
    trailing = b"\xff\xd8" + scan + coded + b"\xff\xd9" + b"PARK^SCOTT"
    padding = b"".join(_segment(0xE2, b"ICC_PROFILE\x00" + bytes(65000)) for _ in range(17))
    deep = b"\xff\xd8" + padding + _segment(0xFE, b"past the padding") + scan + coded + b"\xff\xd9"
    for frame, expected in ((late, b"after the scan"), (trailing, b"PARK^SCOTT"), (deep, b"past the padding")):
        found = codestreams.pixel_header_payloads(item(b"") + item(frame), 0)
        assert expected in found, (expected, found)
        assert not any(b"John Doe" in p for p in found)
    assert codestreams.pixel_header_payloads(item(b"PARK^SCOTT MRN5657") + item(late), 0)[0] == b"PARK^SCOTT MRN5657"
    text = codestreams.pixel_header_payloads(item(b"") + item(late) + item(b"PARK^SCOTT MRN56576718"), 0)
    assert b"PARK^SCOTT MRN56576718" in text
    opened = b"\xff\xd8" + scan + coded                 # a frame continued in the next fragment
    noise = codestreams.pixel_header_payloads(item(b"") + item(opened) + item(bytes(range(256)) * 4), 0)
    assert noise == []                               # a continued frame's coded bytes: unread
    assert codestreams.pixel_header_payloads(item(b"") + item(opened) + item(coded + b"\xff\xd9"), 0) == []
    mixed = b"\x01\x02\x03\x04" * 8 + b"PARK^SCOTT MRN56576718" + b"\x05\x06\x07\x08" * 8
    after = codestreams.pixel_header_payloads(item(b"") + item(late) + item(mixed), 0)
    assert mixed in after                            # after a whole frame: no pixels, all read
    tile = (b"\xff\x64" + struct.pack(">H", 14) + b"\x00\x01PARK^SCOTT"           # COM in the tile-part
            + b"\xff\x93" + b"\x12Doe\x34\x56\x78")                                # SOD, coded data
    j2k = (b"\xff\x4f\xff\x51" + struct.pack(">H", 4) + b"\x00\x00"            # SOC, SIZ (cut short)
           + b"\xff\x90" + struct.pack(">HHLBB", 10, 0, 12 + len(tile), 0, 1) + tile  # SOT with Psot
           + b"\xff\xd9")                                                          # EOC
    assert codestreams.pixel_header_payloads(item(b"") + item(j2k + b"\xff"), 0) == [b"PARK^SCOTT"]
    assert b"MRN56576718" in codestreams.pixel_header_payloads(item(b"") + item(j2k + b"MRN56576718"), 0)[-1]
    segments = b"\x05" + b"ABCDEF" + b"\xfe\x00"          # PackBits: a literal run, then a repeat
    rle = lambda header_tail: struct.pack("<2L", 1, 64) + header_tail + segments
    assert codestreams.pixel_header_payloads(item(b"") + item(rle(bytes(56))), 0) == []
    hidden = rle(b"PARK^SCOTT MRN56576718".ljust(56, b"\x00"))
    assert codestreams.pixel_header_payloads(item(b"") + item(hidden), 0) == [b"PARK^SCOTT MRN56576718".ljust(56, b"\x00")]


def _offered(path: Path) -> tuple[list, list]:
    """What the raw walker and the pydicom reference offer the sweep: (text, VR, where)."""
    def recorder(log: list):
        return lambda text, vr, where: log.append((text, vr, where)) or []
    raw_log: list = []
    ref_log: list = []
    raw_observe(path.read_bytes(), path.name, frozenset(), recorder(raw_log))
    observe_pydicom(path, path.name, frozenset(), recorder(ref_log))
    return raw_log, ref_log


def test_a_jpeg2000_comment_is_offered_to_the_sweep_by_both_walkers() -> None:
    raw_log, ref_log = _offered(Path(get_testdata_file("examples_jpeg2k.dcm")))
    assert ("Kakadu-2.2", "OB", "(7fe0,0010)") in raw_log
    assert raw_log == ref_log


@pytest.mark.parametrize("syntax", ["explicit", "implicit"])
def test_a_name_appended_to_native_pixel_data_is_found(bench: Path, tmp_path: Path, syntax: str) -> None:
    """Bytes past the last frame are no pixel: a viewer shows a clean image, ``strings`` the name."""
    def append(ds: Dataset) -> None:
        ds.PixelData = ds.PixelData + b"\x00\x00seen by JOHN DOE\x00\x00"
        if syntax == "implicit":
            ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    run = make_run(bench, tmp_path / "run", _leaky(append))
    with warnings.catch_warnings(record=True) as seen:   # pydicom's "excess padding": not on stderr
        warnings.simplefilter("always")
        found = _sweep_failures(score(bench, run)[0])
    assert not [w for w in seen if "padding" in str(w.message)], [str(w.message) for w in seen]
    at_pixels = found[found.path == "(7fe0,0010)"]
    assert len(at_pixels) >= 2 and at_pixels.reason.str.contains("DOE").all(), found[["path", "reason"]].to_string()


def _small_image() -> Dataset:
    """A 3 x 5 8-bit image, its pixels not set."""
    ds = Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = pydicom.uid.SecondaryCaptureImageStorage, "1.2.3.4", "OT"
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored = 3, 5, 1, 8, 8
    ds.HighBit, ds.PixelRepresentation, ds.PhotometricInterpretation = 7, 0, "MONOCHROME2"
    return ds


def _offered_at(ds: Dataset, where: str) -> list[str]:
    """What both walkers offer the sweep at ``where`` of ``ds`` saved (asserted equal)."""
    path = Path(tempfile.mkdtemp()) / "px.dcm"
    ds.save_as(path, enforce_file_format=True)
    raw_log, ref_log = _offered(path)
    assert raw_log == ref_log
    return [t for t, _, at in raw_log if at == where]


@pytest.mark.parametrize("frames, extra", [(1, b""), (1, b"\x00"), (3, b"")])
def test_native_pixel_data_is_read_past_its_frames_only(frames: int, extra: bytes) -> None:
    """Text-like pixel values (a frame of letters) are never offered; the bytes past
    Rows x Columns x Samples x Bits x Frames (padded to even) are, by both walkers alike."""
    ds = _small_image()
    if frames > 1:
        ds.NumberOfFrames = frames
    pixels = (b"JOHNDOEHOSPITAL" * frames)[:15 * frames]   # odd for one frame: padded by one byte
    ds.PixelData = pixels + (b"\x00" if len(pixels) % 2 else b"") + extra
    assert _offered_at(ds, "(7fe0,0010)") == []
    ds.PixelData = ds.PixelData + b"APPENDED NOTE"
    assert _offered_at(ds, "(7fe0,0010)") == ["APPENDED NOTE"]


def test_float_pixel_data_past_its_frames_and_pixel_data_no_image_sizes_are_read() -> None:
    """Float pixel data holds 32 bits a sample whatever BitsAllocated says; pixel data with no
    Rows and Columns (in an SR, or an item of a private sequence) is no image: read whole."""
    ds = _small_image()
    ds.add_new(0x7FE00008, "OF", b"JOHN" * 15 + b"SEEN BY JOHN DOE")
    assert _offered_at(ds, "(7fe0,0008)") == ["SEEN BY JOHN DOE"]
    item = Dataset()
    item.add_new(0x7FE00010, "OB", b"\x01\x02DOE^JOHN MRN123456\x00")
    ds.add_new(0x00091010, "SQ", Sequence([item]))
    ds.add_new(0x00090010, "LO", "MIDIB PROBE")
    assert _offered_at(ds, '(0009,"MIDIB PROBE",10)[0](7fe0,0010)') == ["DOE^JOHN MRN123456"]


def test_a_date_stored_as_a_binary_number_is_found(bench: Path, tmp_path: Path) -> None:
    """19700304 as a UL or an FD is the birth date to whoever reads the element."""
    def hide(ds: Dataset) -> None:
        block = ds.private_block(0x0071, "MIDIB PROBE", create=True)
        block.add_new(0x01, "UL", 19700304)
        block.add_new(0x02, "FD", 19700304.0)
        block.add_new(0x03, "UL", [7, 1024, 3])      # small numbers: nothing
    found = _sweep_failures(score(bench, make_run(bench, tmp_path / "run", _leaky(hide)))[0])
    assert set(found.path) >= {'(0071,"MIDIB PROBE",01)', '(0071,"MIDIB PROBE",02)'}, found[["path", "reason"]].to_string()
    assert '(0071,"MIDIB PROBE",03)' not in set(found.path)


def test_long_whole_numbers_are_read_from_binary_values_only() -> None:
    from midib.score.observation import blob_values
    assert blob_values("UL", struct.pack("<I", 38851048)) == ("38851048",)
    assert blob_values("SV", struct.pack("<q", -4000823654)) == ("4000823654",)
    assert blob_values("FD", struct.pack("<2d", 38851048.0, 3.25)) == ("38851048",)
    assert blob_values("FD", struct.pack("<d", float("nan"))) is None
    assert blob_values("UL", struct.pack("<2I", 12, 999_999)) is None
    assert blob_values("UL", struct.pack("<100I", *range(38851000, 38851100))) is None   # an array: data


@pytest.mark.parametrize("syntax", ["explicit", "implicit"])
def test_a_name_in_public_numeric_data_is_found(bench: Path, tmp_path: Path, syntax: str) -> None:
    """An overlay plane and a LUT are numbers to DICOM, but bytes to whoever reads the file."""
    def hide(ds: Dataset) -> None:
        ds.add_new(0x60003000, "OW", b"\x00\x00" + b"JOHN DOE" + b"\x00" * 54)     # OverlayData
        lut = Dataset()
        lut.LUTDescriptor = [8, 0, 16]
        lut.add_new(0x00283006, "US", list(struct.unpack("<14H", b"Springfield General Hospital")))   # LUTData
        ds.ModalityLUTSequence = Sequence([lut])
        if syntax == "implicit":
            ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    found = _sweep_failures(score(bench, make_run(bench, tmp_path / "run", _leaky(hide)))[0])
    assert found[found.path == "(6000,3000)"].reason.str.contains("DOE").sum() >= 2, found[["path", "reason"]].to_string()
    if syntax == "explicit":   # implicit LUT data is US or SS to pydicom: converted to numbers, not read
        lut_rows = found[found.path == "(0028,3000)[0](0028,3006)"]
        assert lut_rows.reason.str.contains("Springfield").sum() >= 2, found[["path", "reason"]].to_string()


def test_real_overlays_and_luts_are_not_leaks(bench: Path, tmp_path: Path) -> None:
    """Numbers make printable runs by chance: a 512x512 overlay of seeded random bits, a full
    16-bit ramp LUT and a palette must not be read as names, IDs or dates."""
    rng = np.random.default_rng(7)

    def real(ds: Dataset) -> None:
        ds.add_new(0x60003000, "OW", rng.integers(0, 256, 512 * 512 // 8, dtype=np.uint8).tobytes())
        lut = Dataset()
        lut.LUTDescriptor = [4096, 0, 16]
        lut.add_new(0x00283006, "US", [int(v) for v in np.linspace(0, 65535, 4096)])
        ds.ModalityLUTSequence = Sequence([lut])
        ds.add_new(0x00281201, "OW", np.arange(0, 65536, 257, dtype="<u2").tobytes())   # red palette
    rows, _ = score(bench, make_run(bench, tmp_path / "run", _leaky(real)), conformance=False)  # a bare overlay
    assert rows.passed.all(), rows[~rows.passed][["path", "reason"]].to_string()


def test_a_private_value_too_large_to_read_is_swept_in_the_file_bytes(bench: Path, tmp_path: Path) -> None:
    """A nested private blob over the 16 MiB a value is read whole: its text is still found,
    in the file's bytes, and the file is judged as read (no unreadable-file failure)."""
    def big(ds: Dataset) -> None:
        item = Dataset()
        block = item.private_block(0x0011, "BULK", create=True)
        block.add_new(0x01, "OB", b"\x00" * (17 * 1024 * 1024) + b"Patient John Doe\x00\x00")
        ds.add_new(0x00111010, "SQ", Sequence([item]))
        ds.add_new(0x00110010, "LO", "HOLDER")
    rows, _ = score(bench, make_run(bench, tmp_path / "run", _leaky(big)))
    found = _sweep_failures(rows)
    assert found[found.path == FILE_BYTES].reason.str.contains("DOE").sum() == 2, found[["path", "reason"]].to_string()
    assert rows[rows.source == "key"].passed.all()


def _overlay_with(text: str, rows: int, cols: int) -> Callable[[Dataset], None]:
    """An edit drawing ``text`` into overlay plane 6000 (one bit per pixel, PS3.3 C.9.2)."""
    from PIL import Image, ImageDraw, ImageFont
    image = Image.new("1", (cols, rows), 0)
    ImageDraw.Draw(image).text((4, rows // 3), text, fill=1, font=ImageFont.load_default(size=14))
    bits = np.asarray(image, dtype=np.uint8).ravel()

    def draw(ds: Dataset) -> None:
        ds.add_new(0x60000010, "US", rows)
        ds.add_new(0x60000011, "US", cols)
        ds.add_new(0x60000040, "CS", "G")
        ds.add_new(0x60000050, "SS", [1, 1])
        ds.add_new(0x60000100, "US", 1)
        ds.add_new(0x60000102, "US", 0)
        ds.add_new(0x60003000, "OW", np.packbits(bits, bitorder="little").tobytes())
    return draw


def _score_ocr(bench: Path, run: Path, **kw) -> pd.DataFrame:
    from midib.benchmark import Benchmark
    from midib.score.inputs import open_run
    from midib.score.scorer import ScoreOptions, score_run
    return pd.DataFrame(score_run(Benchmark(bench), open_run(run), ScoreOptions(ocr=True, **kw)).rows)


@pytest.mark.skipif(not __import__("shutil").which("tesseract"), reason="tesseract is not installed")
def test_a_name_drawn_in_an_overlay_plane_is_read_and_found(bench: Path, tmp_path: Path) -> None:
    """Burned into an overlay, not the pixels: no key box covers it, the bytes are bits. OCR
    reads it; without OCR (--no-ocr) it is not read, and a plane of a clean label passes."""
    leaky = make_run(bench, tmp_path / "leaky", _leaky(_overlay_with("Patient: JOHN DOE", 128, 128)))
    found = _sweep_failures(_score_ocr(bench, leaky))
    assert found[found.path == "(6000,3000)"].reason.str.contains("DOE").sum() == 2, found[["path", "reason"]].to_string()
    assert _sweep_failures(score(bench, leaky)[0]).empty                  # --no-ocr: not read
    clean = make_run(bench, tmp_path / "clean", _leaky(_overlay_with("LEFT LATERAL", 128, 128)))
    rows = _score_ocr(bench, clean, conformance=False)
    assert rows.passed.all(), rows[~rows.passed][["path", "reason"]].to_string()


@pytest.mark.skipif(not __import__("shutil").which("tesseract"), reason="tesseract is not installed")
def test_a_name_drawn_in_a_screenshot_beside_the_outputs_is_read(bench: Path, tmp_path: Path) -> None:
    """A JPEG screenshot of the viewer left in the submission: the name is pixels over a noisy
    image. OCR reads it (brightest grey levels as ink); without OCR only its bytes are swept."""
    from PIL import Image, ImageDraw, ImageFont
    from midib.score.drawn import PICTURE
    from tests.test_score_scorer import deidentify
    noise = np.random.default_rng(0).normal(60, 20, (384, 384)).clip(0, 255).astype(np.uint8)
    shot = Image.fromarray(noise)
    ImageDraw.Draw(shot).text((10, 10), "PAT: DOE, JOHN", fill=255, font=ImageFont.load_default(size=16))
    run = make_run(bench, tmp_path / "run", deidentify)
    shot.convert("RGB").save(run / "out" / "screenshot.jpg", quality=90)
    found = _sweep_failures(_score_ocr(bench, run, conformance=False))
    assert set(found.path) == {PICTURE} and found.reason.str.contains("DOE").all(), found[["path", "reason"]].to_string()
    assert _sweep_failures(score(bench, run)[0]).empty


def test_pictures_that_cannot_hold_readable_text_are_not_read(tmp_path: Path) -> None:
    """Only decodable, non-uniform pictures of a sane size reach OCR; anything else is no
    picture to it (its bytes are still swept), and nothing raises."""
    import zlib
    from PIL import Image
    from midib.score.drawn import picture_images
    (tmp_path / "notes.txt").write_text("PAT: DOE, JOHN")
    Image.new("L", (64, 64), 17).save(tmp_path / "flat.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "flat.png").read_bytes()[:30])
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)       # 400 megapixels claimed
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    for name in ("notes.txt", "flat.png", "cut.png", "bomb.png", "missing.png"):
        assert picture_images(tmp_path / name) == [], name
    page = np.full((64, 200), 255, np.uint8)
    page[20:40, 10:190:7] = 0                                          # strokes on a white page
    Image.fromarray(page).save(tmp_path / "page.png")
    assert len(picture_images(tmp_path / "page.png")) == 1             # dark ink only: one reading


def test_ocr_look_alike_digits_are_read_as_letters_inside_words_only() -> None:
    from midib.score.drawn import readings
    assert readings("PAT: D0E, J0HN  ID: MRN123456") == ["PAT: D0E, J0HN  ID: MRN123456",
                                                         "PAT: DOE, JOHN  ID: MRNI234SG"]
    assert readings("20040119 LEFT") == ["20040119 LEFT"]      # numbers and words as they are


@pytest.mark.skipif(not __import__("shutil").which("tesseract"), reason="tesseract is not installed")
def test_a_name_only_in_the_pixels_of_an_extra_dicom_output_is_read(bench: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A secondary capture no source claims, its header clean, the name burned into its pixels:
    its first frame is read by OCR (for a bounded number of extra outputs per run)."""
    from PIL import Image, ImageDraw, ImageFont
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage
    from tests.test_score_scorer import deidentify
    page = Image.new("L", (320, 96), 20)
    ImageDraw.Draw(page).text((8, 30), "PAT: DOE, JOHN", fill=250, font=ImageFont.load_default(size=18))
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = "2.25.4242"
    ds.Modality, ds.PatientName, ds.PatientID = "OT", "ANON^P1", "P1"
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 96, 320, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.asarray(page, dtype=np.uint8).tobytes()
    run = make_run(bench, tmp_path / "run", deidentify)
    ds.save_as(run / "out" / "capture.dcm", enforce_file_format=True)
    found = _sweep_failures(_score_ocr(bench, run, conformance=False))
    assert set(found.output_file) == {"out/capture.dcm"}, found[["output_file", "path", "reason"]].to_string()
    assert (found.path == "(7fe0,0010)").all() and found.reason.str.contains("DOE").all()
    monkeypatch.setattr("midib.score.drawn.EXTRA_FRAMES_MAX", 0)          # the bound: none read
    assert _sweep_failures(_score_ocr(bench, run, conformance=False)).empty
