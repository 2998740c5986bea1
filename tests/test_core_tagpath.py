"""Tag paths: the one notation for attributes, and its MIDI-B twin."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from midib.errors import MidibError
from midib.tagpath import ANY_ITEM, TagPath, iter_elements


def _nested() -> Dataset:
    ds = Dataset()
    ds.PatientName = "DOE^JOHN"
    items = []
    for uid in ("1.2.3", "1.2.4"):
        item = Dataset()
        item.ReferencedSOPInstanceUID = uid
        items.append(item)
    ds.ReferencedStudySequence = Sequence(items)
    block = ds.private_block(0x0019, "ACME IDENT 01", create=True)
    block.add_new(0x92, "LO", "SECRET-7")
    return ds


@pytest.mark.parametrize("text, midi", [
    ("(0010,0010)", "<(0010,0010)>"),
    ("(0008,1110)[0](0008,1155)", "<(0008,1110)>[<0000>]<(0008,1155)>"),
    ("(0040,0275)[12](0008,1110)[3](0008,1155)", "<(0040,0275)>[<0012>]<(0008,1110)>[<0003>]<(0008,1155)>"),
    ('(0019,"SIEMENS CT VA0  COAD",92)', '<(0019,"SIEMENS CT VA0  COAD",92)>'),
])
def test_round_trip_between_notations(text: str, midi: str) -> None:
    path = TagPath.parse(text)
    assert str(path) == text
    assert path.to_midi_b() == midi
    assert TagPath.from_midi_b(midi) == path


def test_midi_b_upper_cases_private_creators_and_matching_ignores_case() -> None:
    path = TagPath.parse('(0019,"Acme Ident 01",92)')
    assert path.to_midi_b() == '<(0019,"ACME IDENT 01",92)>'
    back = TagPath.from_midi_b(path.to_midi_b())
    assert back.resolve(_nested()).value == "SECRET-7"


@pytest.mark.parametrize("bad", ["", "(0010,001)", "(0010,0010)[x](0010,0010)", "(0010,0010)junk", "<(0010,0010)"])
def test_malformed_paths_raise_a_clear_error(bad: str) -> None:
    with pytest.raises(MidibError, match="malformed"):
        TagPath.parse(bad)


def test_resolve_and_find_with_wildcards() -> None:
    ds = _nested()
    assert TagPath.of("PatientName").resolve(ds).value == "DOE^JOHN"
    second = TagPath.parse("(0008,1110)[1](0008,1155)")
    assert second.resolve(ds).value == "1.2.4"
    assert TagPath.parse("(0008,1110)[5](0008,1155)").resolve(ds) is None
    pattern = TagPath.parse("(0008,1110)[*](0008,1155)")
    assert pattern.indexes == (ANY_ITEM,)
    found = [(str(p), e.value) for p, e in pattern.find(ds)]
    assert found == [("(0008,1110)[0](0008,1155)", "1.2.3"), ("(0008,1110)[1](0008,1155)", "1.2.4")]
    assert pattern.matches(second) and not second.matches(TagPath.parse("(0008,1110)[0](0008,1155)"))


def test_private_element_found_by_creator_even_when_block_moves() -> None:
    ds = Dataset()
    ds.add_new(0x00190010, "LO", "OTHER")
    ds.add_new(0x00190011, "LO", "ACME IDENT 01")
    ds.add_new(0x00191192, "LO", "MOVED")
    assert TagPath.parse('(0019,"ACME IDENT 01",92)').resolve(ds).value == "MOVED"


def test_iter_elements_yields_every_element_with_a_resolvable_path() -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    pairs = list(iter_elements(ds))
    assert len(pairs) > len(ds)  # nested and private elements included
    for path, elem in pairs:
        again = TagPath.parse(str(path)).resolve(ds)
        assert again is not None and again.tag == elem.tag, str(path)
    assert any(p.is_private for p, _ in pairs)


def test_keyword_is_readable() -> None:
    assert TagPath.parse("(0008,1110)[0](0008,1155)").keyword() == "ReferencedStudySequence[0].ReferencedSOPInstanceUID"


def test_canonical_form_groups_items_and_creator_spellings() -> None:
    a = TagPath.parse('(0019,"Acme Ident ",92)[3](0010,0010)')
    b = TagPath.parse('(0019,"ACME IDENT",92)[0](0010,0010)')
    assert str(a.canonical()) == str(b.canonical()) == '(0019,"ACME IDENT",92)[*](0010,0010)'
