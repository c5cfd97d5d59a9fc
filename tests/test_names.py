"""Names as people write them (issue 13 part 2): real-world spellings, cartridges, numbers, close matches."""

from __future__ import annotations

from collections import Counter

import pytest

from gunshot_bench import taxonomy as tx
from gunshot_bench.sources import folder
from gunshot_bench.sources.base import SkippedFile
from gunshot_bench.taxonomy import CATEGORIES, MODELS, close_matches, get_model, resolve_label
from tests.conftest import shot_train, write
from tests.real_world_names import ALL, ENCYCLOPEDIA, GAMES, SOUND_LIBRARIES


def _resolved(raw: str) -> str:
    label = resolve_label(raw)
    return label.model if label.kind == "model" else label.category if label.kind == "category" else label.kind


def test_the_list_is_large_and_covers_every_model():
    distinct = dict(ALL)
    assert len(distinct) >= 300
    assert len(GAMES) >= 100 and len(SOUND_LIBRARIES) >= 100 and len(ENCYCLOPEDIA) >= 100
    per_model = Counter(expected for expected in distinct.values() if expected in MODELS)
    assert set(per_model) == set(MODELS) and min(per_model.values()) >= 3, per_model
    assert set(CATEGORIES) <= set(distinct.values())


@pytest.mark.parametrize("raw, expected", sorted(dict(ALL).items()))
def test_real_world_spelling_resolves(raw, expected):
    assert _resolved(raw) == expected, resolve_label(raw)


def _spellings(name: str) -> set[str]:
    """The same name in lower/upper case, with underscores, hyphens, spaces or nothing between words."""
    words = name.replace("-", " ").split()
    out = set()
    for sep in (" ", "_", "-", ""):
        text = words[0]
        for prev, word in zip(words, words[1:]):
            # "Glock 17 9mm" run together is "Glock17_9mm", never "glock179mm" (which reads 179 mm)
            text += "_" if not sep and prev[-1].isdigit() and word[0].isdigit() else sep
            text += word
        for case in (str.lower, str.upper, str.title):
            out.add(case(text))
    return out


@pytest.mark.parametrize("model", MODELS)
def test_every_alias_resolves_in_any_case_and_separator(model):
    ambiguous = {a for item in tx._data()["ambiguous"] for a in item["aliases"]}
    for alias in (model, *get_model(model).aliases):
        if alias.strip(".").isdigit() or alias in ambiguous:  # "M4" alone: carbine or Benelli M4
            continue  # numbers alone resolve only as a whole label (tested below)
        for spelling in _spellings(alias):
            if spelling.replace(" ", "").replace("_", "").replace("-", "").isdigit():
                continue
            assert _resolved(spelling) == model, (alias, spelling, resolve_label(spelling))


@pytest.mark.parametrize("raw, expected", [
    (".38 Special", "pistol"), ("357 magnum revolver", "pistol"), (".44 Mag", "pistol"), ("45_long_colt", "pistol"),
    ("12 gauge", "shotgun"), ("20ga", "shotgun"), (".410 bore", "shotgun"), ("28-gauge", "shotgun"),
    (".308 Win", "rifle"), ("6.5 Creedmoor", "rifle"), ("300 BLK", "rifle"),
    # used by two categories: only the rest of the name can decide
    ("9mm", "gunshot"), ("9mm_pistol", "pistol"), ("9mm smg", "submachine_gun"), ("7.62x39", "gunshot"),
    ("7.62x39 rifle", "rifle"), ("5.56 NATO machine gun", "machine_gun"), (".22 LR", "gunshot"), (".45 ACP", "gunshot"),
])
def test_cartridges_and_gauges_resolve_to_their_category_where_unambiguous(raw, expected):
    assert _resolved(raw) == expected
    if expected == "gunshot":
        assert "cartridge" in resolve_label(raw).note


def test_numbers_alone_name_a_firearm_only_as_the_whole_label_or_with_a_matching_word():
    assert _resolved("870") == "Remington 870" and _resolved("1911") == "Colt M1911" and _resolved("249") == "M249"
    assert _resolved("1911 pistol") == "Colt M1911" and _resolved("Colt 45 1911") == "Colt M1911"
    assert _resolved("gunshot_870") == "gunshot"  # a take number inside a file name
    assert _resolved("rifle_1911") == "rifle"  # the word disagrees: no Colt M1911
    assert _resolved("17") == "unresolved" and _resolved("047") == "unresolved"
    assert folder.label_from_path("shotgun/870.wav")[1].model is None  # file 870 is a take
    assert folder.label_from_path("870/take1.wav")[1].model == "Remington 870"  # folder 870 is the gun


def test_everyday_words_need_the_whole_label_or_context():
    assert _resolved("Nova") == "Benelli Nova" and _resolved("nova_pump_shotgun") == "Benelli Nova"
    assert _resolved("chevy_nova_engine") == "background"
    assert _resolved("Vector") == "submachine_gun" and _resolved("vector graphics") == "unresolved"


def test_unresolved_folder_is_reported_with_close_matches(tmp_path):
    assert close_matches("Glok 17")[0] == "Glock 17" and close_matches("Remmington 870")[0] == "Remington 870"
    assert close_matches("holiday videos") == []
    write(tmp_path / "Benneli Nvoa" / "take1.wav", shot_train("x", duration_s=2.2))
    write(tmp_path / "Remingtn" / "shot1.wav", shot_train("y", duration_s=2.2))
    skipped, generic = list(folder.scan(tmp_path))
    assert isinstance(skipped, SkippedFile) and "close matches: Benelli Nova" in skipped.reason
    # "shot" in the file name gives a generic gunshot, and the folder's likely meaning is named
    assert generic.label.kind == "gunshot" and "folder 'Remingtn' not recognised (close matches: Remington" in generic.label.note


@pytest.mark.parametrize("raw, expected_firearm", [
    ("GP100", "Ruger GP100"), ("P226", "SIG P226"), ("Model 29", "S&W Model 29"), ("M70", "Zastava M70"),
    ("P-07", "CZ P-07"), ("Mark 23", "HK Mark 23"), ("500", "Mossberg 500"), ("1100_shotgun", "Remington 1100"),
])
def test_catalogue_firearms_resolve_without_their_maker(raw, expected_firearm):
    label = resolve_label(raw)
    assert label.kind == "category" and f"{expected_firearm} (" in label.note, label


def test_names_without_maker_are_not_derived_from_words_or_shared_numbers():
    assert _resolved("king cobra") == "unresolved" and _resolved("commander") == "unresolved"  # everyday words
    assert _resolved("15") == "unresolved"  # AK-15 and FN 15 share it
    assert _resolved("gunshot_336") == "gunshot"  # a weak number inside a file name: take 336, not a Marlin 336
