"""The taxonomy: fixed order, physical facts, aliases and label resolution of real names."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

import pytest

from gunshot_bench import taxonomy as tx
from gunshot_bench.taxonomy import (
    CATEGORIES,
    CATEGORY_NAMES,
    MODELS,
    FirearmModel,
    Label,
    category_index,
    category_of,
    get_model,
    model_index,
    models_in,
    resolve_label,
)

EXPECTED_MODELS = {
    "machine_gun": ("M249", "MG-42", "RPK"),
    "pistol": ("Glock 17", "Glock 19", "Glock 21", "Beretta PX4 Storm", "Beretta 92FS", "Desert Eagle",
               "Colt M1911", "SIG P225", "HK USP Compact", "S&W M&P40", "Kimber Tactical Custom",
               "Walther PPQ", "S&W .38 Revolver"),
    "rifle": ("AK-47", "AK-12", "M16", "M4", "MK18", "Zastava M92", "SIG SG556", "Ruger AR-556"),
    "shotgun": ("Benelli Nova", "DP-12", "Kel-Tec KSG", "Remington 870"),
    "submachine_gun": ("MP5", "MP7", "UMP45", "Uzi"),
}


# --- fixed order and lookups -------------------------------------------------------------

def test_fixed_order_and_counts():
    assert CATEGORIES == ("machine_gun", "pistol", "rifle", "shotgun", "submachine_gun")
    assert CATEGORY_NAMES == ("Machine gun", "Pistol", "Rifle", "Shotgun", "Submachine gun")
    assert MODELS == sum(EXPECTED_MODELS.values(), ())
    assert len(MODELS) == len(set(MODELS)) == 32
    assert [len(models_in(c)) for c in CATEGORIES] == [3, 13, 8, 4, 4]
    for category, names in EXPECTED_MODELS.items():
        assert models_in(category) == names
        assert all(category_of(name) == category for name in names)


def test_indices_are_classlabel_ids():
    assert [model_index(name) for name in MODELS] == list(range(32))
    assert model_index("ak47") == MODELS.index("AK-47")
    assert category_index("submachine_gun") == 4
    assert category_index("Shotgun") == 3
    with pytest.raises(KeyError, match="pistol"):
        category_index("pistols")


def test_get_model_by_alias_and_close_matches():
    assert get_model("HK MP5").name == "MP5"
    assert get_model("m4").name == "M4"  # get_model knows only the 32, so "M4" is the carbine
    assert get_model("Smith & Wesson M&P 40").name == "S&W M&P40"
    with pytest.raises(KeyError, match="Glock 17"):
        get_model("Glock 71")
    with pytest.raises(KeyError, match="not one of the 32"):
        get_model("Ruger 10/22")


def test_display_name():
    assert tx.display_name("pistol", "glock_17") == "Pistol - Glock 17"
    assert tx.display_name("submachine_gun") == "Submachine gun"


# --- physical facts ----------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_physical_facts_are_plausible(name):
    model = get_model(name)
    assert 200.0 <= model.muzzle_velocity_mps <= 1100.0
    assert model.subsonic == (model.muzzle_velocity_mps < 343.0)
    assert (model.cyclic_rate_rpm is not None) == (model.action in ("select_fire", "full_auto"))
    if model.cyclic_rate_rpm is not None:
        assert 400.0 <= model.cyclic_rate_rpm <= 1500.0
    assert model.action in tx.ACTIONS
    assert 50.0 <= model.barrel_length_mm <= 800.0
    assert 4.0 <= model.bullet_diameter_mm <= 13.0
    assert 1.5 <= model.bullet_mass_g <= 40.0
    assert 2.0 <= model.charge_grains <= 60.0
    assert model.source and model.calibre


def test_known_figures_and_physics_orderings():
    # Standard-load figures the simulator relies on (published values, see each model's source).
    assert get_model("AK-47").muzzle_velocity_mps == pytest.approx(715, abs=10)
    assert get_model("AK-47").cyclic_rate_rpm == 600
    assert get_model("MG-42").cyclic_rate_rpm == 1200
    assert get_model("M16").barrel_length_mm == 508
    assert get_model("M4").barrel_length_mm == 368
    # Subsonic loads make no ballistic N-wave: .45 ACP, .38 Special and .40 S&W 180 gr.
    subsonic = {m for m in MODELS if get_model(m).subsonic}
    assert {"Glock 21", "Colt M1911", "Kimber Tactical Custom", "UMP45", "S&W .38 Revolver"} <= subsonic
    assert not subsonic & {"AK-47", "M249", "MP5", "MP7", "Desert Eagle", "Remington 870"}
    # Same cartridge, shorter barrel: lower muzzle velocity (M16 > M4 > MK18).
    v = {m: get_model(m).muzzle_velocity_mps for m in ("M16", "M4", "MK18")}
    assert v["M16"] > v["M4"] > v["MK18"]
    # Rifle cartridges carry several times the propellant of pistol cartridges.
    assert get_model("M249").charge_grains > 4 * get_model("Glock 17").charge_grains
    # Semi-automatic, pump and revolver actions have no cyclic rate.
    for name in ("Glock 17", "Remington 870", "S&W .38 Revolver", "SIG SG556"):
        assert get_model(name).cyclic_rate_rpm is None


def test_firearm_model_validates_its_facts():
    model = get_model("Glock 21")
    with pytest.raises(ValueError, match="subsonic"):
        dataclasses.replace(model, subsonic=False)
    with pytest.raises(ValueError, match="cyclic rate"):
        dataclasses.replace(model, cyclic_rate_rpm=600.0)
    with pytest.raises(ValueError, match="cyclic rate"):
        dataclasses.replace(get_model("MP5"), cyclic_rate_rpm=None)
    with pytest.raises(ValueError, match="action"):
        dataclasses.replace(model, action="lever_magic")
    with pytest.raises(ValueError, match="category"):
        dataclasses.replace(model, category="cannon")
    with pytest.raises(ValueError, match="muzzle_velocity_mps"):
        dataclasses.replace(model, muzzle_velocity_mps=-1.0)
    assert isinstance(model, FirearmModel)


# --- aliases ----------------------------------------------------------------------------

ALL_MODEL_ALIASES = [(name, alias) for name in MODELS for alias in get_model(name).aliases]


@pytest.mark.parametrize(("name", "alias"), ALL_MODEL_ALIASES)
def test_every_alias_resolves_to_its_model(name, alias):
    label = resolve_label(alias)
    assert (label.kind, label.model, label.category) == ("model", name, get_model(name).category), label


def test_every_model_name_resolves_unless_declared_ambiguous():
    ambiguous = {tx._key(a) for item in tx._data()["ambiguous"] for a in item["aliases"]}
    for name in MODELS:
        label = resolve_label(name)
        if tx._key(name) in ambiguous:
            assert label.model is None and label.note.startswith("ambiguous"), label
        else:
            assert label.model == name, label
    assert tx._key("M4") in ambiguous


def test_no_alias_shared_by_two_models():
    owner: dict[str, str] = {}
    for name in MODELS:
        for alias in (name, *get_model(name).aliases):
            key = tx._key(alias)
            assert owner.setdefault(key, name) == name, f"{alias!r}: {owner[key]} and {name}"


def test_no_catalogue_entry_duplicates_a_model():
    model_keys = {tx._key(a) for name in MODELS for a in (name, *get_model(name).aliases)}
    for entry in tx.catalogue():
        for alias in (entry.name, *entry.aliases):
            assert tx._key(alias) not in model_keys, f"catalogue {entry.name!r} alias {alias!r} names a model"


def test_aliases_need_a_letter_and_no_take_id_trap():
    """No alias is only digits, and none is "<another firearm>_<number>" (take ids look like that)."""
    index = tx._index()
    for key, entry in index.items():
        # digits alone only as a firearm's long number ("870", "1911"), and then only weakly
        assert re.search("[a-z]", key) or (key.isdigit() and len(key) >= 3 and entry.weak), key
        match = re.fullmatch(r"(.*[0-9])\.([0-9]+)", key)
        if match and match.group(1) in index:
            head = index[match.group(1)]
            assert (head.kind, head.options) == (entry.kind, entry.options), (
                f"{key!r} ({entry.alias}) would swallow '{head.alias}_<take number>'")


def test_index_refuses_an_alias_with_two_meanings(monkeypatch):
    data = tx._data()
    broken = dict(data, gunshot_terms=[*data["gunshot_terms"], "AK47"])
    tx._index.cache_clear()
    monkeypatch.setattr(tx, "_data", lambda: broken)
    try:
        with pytest.raises(ValueError, match="AK47"):
            tx._index()
    finally:
        monkeypatch.undo()
        tx._index.cache_clear()
    assert resolve_label("AK47").model == "AK-47"


# --- resolution of real folder and file names ---------------------------------------------

@pytest.mark.parametrize(("raw", "model"), [
    ("AK-47_C_24", "AK-47"), ("AK-47_C_24.wav", "AK-47"), ("Ak 47", "AK-47"), ("AK47", "AK-47"),
    ("ak_47", "AK-47"), ("AK-47", "AK-47"), ("АК-47", "AK-47"), ("AK-12", "AK-12"),
    ("glock_17_9mm", "Glock 17"), ("Glock17Gen5", "Glock 17"), ("GLOCK 19", "Glock 19"),
    ("fn_m249_minimi", "M249"), ("M249 SAW", "M249"), ("MG42", "MG-42"), ("mg_42", "MG-42"),
    ("IMI Desert Eagle", "Desert Eagle"), ("desert-eagle.50AE", "Desert Eagle"),
    ("M4 CARBINE", "M4"), ("Colt M4", "M4"), ("m4a1", "M4"), ("m4_rifle", "M4"),
    ("H&K MP5", "MP5"), ("HK MP5", "MP5"), ("Heckler & Koch MP5", "MP5"), ("mp-5", "MP5"),
    ("MP5_10", "MP5"),
    ("M9 Beretta", "Beretta 92FS"), ("beretta_92fs", "Beretta 92FS"), ("Beretta PX4 Storm", "Beretta PX4 Storm"),
    ("Kel Tec KSG", "Kel-Tec KSG"), ("KelTec_KSG", "Kel-Tec KSG"), ("remington_870_12ga", "Remington 870"),
    ("Smith & Wesson M&P 40", "S&W M&P40"), ("smith_and_wesson_m&p40", "S&W M&P40"),
    ("S&W 38 special revolver", "S&W .38 Revolver"), ("smith & wesson .38", "S&W .38 Revolver"),
    ("Colt 1911", "Colt M1911"), ("M1911A1", "Colt M1911"), ("SG 556", "SIG SG556"),
    ("Zastava M92 PV", "Zastava M92"), ("UMP 45", "UMP45"), ("ump-45", "UMP45"),
    ("Uzi submachine gun", "Uzi"), ("uzi", "Uzi"), ("Mk 18 Mod 1", "MK18"), ("mk_18", "MK18"),
    ("M16A4", "M16"), ("ruger_ar_556", "Ruger AR-556"), ("HK USP Compact", "HK USP Compact"),
    ("Walther PPQ M2", "Walther PPQ"), ("Kimber Tactical Custom II", "Kimber Tactical Custom"),
    ("SIG Sauer P225", "SIG P225"), ("DP12", "DP-12"), ("benelli_nova", "Benelli Nova"),
    ("HK MP7A1", "MP7"), ("RPK", "RPK"), ("Désert Eagle", "Desert Eagle"), ("deagel", "Desert Eagle"),
    ("zastavam92", "Zastava M92"),
    # The folders of Kabealo et al. 2023 (the baseline collection's worked example).
    ("glock_17_9mm_caliber", "Glock 17"), ("38s&ws_dot38_caliber", "S&W .38 Revolver"),
    ("remington_870_12_gauge", "Remington 870"), ("ruger_ar_556_dot223_caliber", "Ruger AR-556"),
    # Kaggle "gunshot audio dataset" folders (its "M4" is handled by the kaggle loader).
    ("AK-12", "AK-12"), ("IMI Desert Eagle", "Desert Eagle"), ("M16", "M16"), ("M249", "M249"),
    ("MG-42", "MG-42"), ("MP5", "MP5"), ("Zastava M92", "Zastava M92"),
    ("38s&ws Dot38 Caliber", "S&W .38 Revolver"), ("Ruger AR 556 Dot223 Caliber", "Ruger AR-556"),
])
def test_real_names_resolve_to_models(raw, model):
    label = resolve_label(raw)
    assert label.kind == "model" and label.model == model, label
    assert label.category == get_model(model).category and label.is_gunshot is True


@pytest.mark.parametrize(("raw", "kind", "category", "in_note"), [
    ("M4", "gunshot", None, "Benelli M4"),
    ("m4_001", "gunshot", None, "ambiguous"),
    ("Benelli M4", "category", "shotgun", "Benelli M4"),
    ("m4 shotgun", "category", "shotgun", "Benelli M4"),
    ("Glock", "category", "pistol", "model not named"),
    ("Beretta", "category", "pistol", ""),
    ("Ruger", "gunshot", None, "rifles"),
    ("Ruger pistol", "category", "pistol", ""),
    ("MP40", "gunshot", None, "M&P40"),
    ("UMP", "category", "submachine_gun", ""),
    ("M1", "category", "rifle", "Garand"),
    ("M2", "gunshot", None, "Browning M2"),
    ("Kalashnikov", "gunshot", None, ""),
    ("glock 17 vs glock 19", "category", "pistol", "several firearms"),
    ("AK47 vs Glock 17", "gunshot", None, "different categories"),
    ("glock shotgun", "gunshot", None, "contradictory"),
    ("pistol_or_rifle", "gunshot", None, "several categories"),
])
def test_ambiguous_names_stay_at_the_certain_level(raw, kind, category, in_note):
    label = resolve_label(raw)
    assert (label.kind, label.category, label.model) == (kind, category, None), label
    assert in_note in label.note
    assert label.is_gunshot is True


def test_m_and_p_differs_from_mp():
    assert resolve_label("M&P40").model == "S&W M&P40"
    assert resolve_label("MP 40 Schmeisser").category == "submachine_gun"
    assert resolve_label("M&P9").category == "pistol"
    assert resolve_label("B&T MP9").category == "submachine_gun"


def test_numbers_are_not_glued_across_separators():
    # A take number after a name must not turn it into another firearm.
    assert resolve_label("M4_0").note.startswith("ambiguous")  # not the M40 sniper rifle
    assert resolve_label("M1_6.wav").model is None  # not the M16
    assert resolve_label("MG4_2").category == "machine_gun" and resolve_label("MG4_2").model is None


def test_take_letters_and_numbers_do_not_change_the_firearm():
    # File names of the Free Firearm Sound Library: <firearm>_<mic letter>_<take>.
    assert resolve_label("Carl_Gustav_M45_Swedish_K_G_18.wav").category == "submachine_gun"
    take_19 = resolve_label("Carl_Gustav_M45_Swedish_K_G_19.wav")  # "G19" is an alias of the Glock 19
    assert take_19.category == "submachine_gun" and "Glock 19" in take_19.note
    assert resolve_label("Ruger_10-22_Q_1.wav").category == "rifle"
    assert resolve_label("Ruger_Mark_III_R_34.wav").category == "pistol"
    assert resolve_label("AK-47_C_38.wav").model == "AK-47"


@pytest.mark.parametrize("raw", ["pistol", "Pistols", "handgun", "hand_gun", "revolver", "smg", "SMG",
                                 "sub machine gun", "sub-machine-gun", "submachinegun", "machine gun",
                                 "machine_gun", "LMG", "rifle", "assault rifle", "Assault_Rifle", "carbine",
                                 "sniper rifle", "shotgun", "shot gun", "pump action", "12 gauge"])
def test_category_only_labels(raw):
    label = resolve_label(raw)
    assert label.kind == "category" and label.model is None and label.category in CATEGORIES, label


def test_category_words_map_to_the_right_category():
    assert resolve_label("sub machine gun").category == "submachine_gun"
    assert resolve_label("machine gun").category == "machine_gun"
    assert resolve_label("revolver").category == "pistol"
    assert resolve_label("handgun").category == "pistol"
    assert resolve_label("carbine").category == "rifle"
    assert resolve_label("12 gauge").category == "shotgun"


@pytest.mark.parametrize(("raw", "category"), [
    ("Ruger 10/22", "rifle"), ("ruger_10_22", "rifle"), ("Ruger Mark III", "pistol"), ("RugerMarkIII", "pistol"),
    ("Carl Gustav M45", "submachine_gun"), ("Swedish K", "submachine_gun"), ("FN SCAR-H", "rifle"),
    ("HK416", "rifle"), ("G36", "rifle"), ("FN FAL", "rifle"), ("Mosin-Nagant", "rifle"), ("SKS", "rifle"),
    ("Thompson", "submachine_gun"), ("Tommy gun", "submachine_gun"), ("PPSh-41", "submachine_gun"),
    ("Sten", "submachine_gun"), ("MAC-10", "submachine_gun"), ("P90", "submachine_gun"),
    ("KRISS Vector", "submachine_gun"), ("PKM", "machine_gun"), ("M60", "machine_gun"),
    ("FN MAG", "machine_gun"), ("Browning M2", "machine_gun"), ("Bren", "machine_gun"),
    ("Beretta M9A3", "pistol"), ("SIG P320", "pistol"), ("P226", "pistol"), ("CZ 75", "pistol"),
    ("Makarov", "pistol"), ("TT-33", "pistol"), ("Mossberg 500", "shotgun"), ("Benelli M2", "shotgun"),
    ("Saiga-12", "shotgun"), ("SPAS-12", "shotgun"), ("MP5K", "submachine_gun"), ("Mini Uzi", "submachine_gun"),
])
def test_catalogue_firearms_keep_their_category(raw, category):
    label = resolve_label(raw)
    assert (label.kind, label.category, label.model) == ("category", category, None), label
    assert "outside the 32 models" in label.note and "catalogue" in label.note


def test_every_catalogue_entry_resolves_to_its_category():
    entries = tx.catalogue()
    assert len(entries) >= 250
    assert len({e.name for e in entries}) == len(entries)
    assert set(Counter(e.category for e in entries)) == set(CATEGORIES)
    ambiguous = {tx._key(a) for item in tx._data()["ambiguous"] for a in item["aliases"]}
    for entry in entries:
        assert entry.calibre and entry.source, entry.name
        for alias in (entry.name, *entry.aliases):
            if tx._key(alias) in ambiguous:
                continue
            label = resolve_label(alias)
            assert (label.kind, label.category) == ("category", entry.category), (alias, label)
            assert entry.name in label.note


@pytest.mark.parametrize("raw", ["gunshot", "gun_shot", "gunshots", "Gun Shots", "gunfire", "shots", "shot",
                                 "shooting", "gun", "guns", "firearm", "shots_fired"])
def test_generic_gunshot_labels(raw):
    label = resolve_label(raw)
    assert (label.kind, label.category, label.model, label.is_gunshot) == ("gunshot", None, None, True), label


BACKGROUND = ["background", "other", "others", "noise", "non_gunshot", "not_gunshot", "negative", "crowd",
              "crowd_noise", "babble", "scream", "screaming", "street", "traffic", "ambience", "ambient", "wind",
              "rain", "music", "speech", "fireworks", "firework", "door_slam", "door", "balloon_pop", "balloon",
              "bag_pop", "plastic_bag", "clap", "claps", "hammering", "hammer", "car_backfire", "backfire",
              "silence", "Non-Gunshot", "nail gun", "toy_gun", "starter pistol", "Background Noise"]


@pytest.mark.parametrize("raw", BACKGROUND)
def test_background_labels(raw):
    label = resolve_label(raw)
    assert (label.kind, label.category, label.model, label.is_gunshot) == ("background", None, None, False), label


@pytest.mark.parametrize(("raw", "in_note"), [
    ("", "empty"), ("   ", "empty"), ("___.wav", "empty"), ("12345", "numeric"), ("10/22", "numeric"),
    ("001.wav", "numeric"), ("xyzzy", "xyzzy"), ("recording", "recording"), ("nova_car", "nova car"),
    ("gunshot_or_firework", "both gunshot and background"),
    # Everyday words that are also firearm names on their own are not read as firearms.
    ("red_hawk_call", "red hawk call"), ("king cobra", "king cobra"), ("calico cat", "calico"),
    ("benelli motorcycle", "motorcycle"), ("sterling", "sterling"),
])
def test_unresolved_labels_report_a_note(raw, in_note):
    label = resolve_label(raw)
    assert (label.kind, label.category, label.model, label.is_gunshot) == ("unresolved", None, None, None)
    assert in_note in label.note


def test_impulsive_confusers_with_firearm_like_words_stay_background():
    for raw in ("Black Hawk helicopter", "automatic door", "balloon burst", "cap gun", "nail_gun"):
        assert resolve_label(raw).kind == "background", raw


def test_firearm_wins_over_background_words_and_says_so():
    label = resolve_label("ak47_in_street_traffic")
    assert label.model == "AK-47" and "background" in label.note


def test_label_validates_its_fields():
    assert Label("x", "model", "pistol", "Glock 17").is_gunshot is True
    with pytest.raises(ValueError, match="kind"):
        Label("x", "firearm")
    with pytest.raises(ValueError, match="own category"):
        Label("x", "model", "rifle", "Glock 17")
    with pytest.raises(ValueError, match="needs a category"):
        Label("x", "category")
    with pytest.raises(ValueError, match="carries no category"):
        Label("x", "background", "pistol")
    with pytest.raises(ValueError, match="unknown model"):
        Label("x", "model", "pistol", "Glock 99")


def test_tokens_normalise_case_accents_separators_and_extensions():
    assert tx.tokens("AK-47_C_24.wav") == ("ak", "47", "c", "24")
    assert tx.tokens("Désert  Eagle (.50 AE).FLAC") == ("desert", "eagle", "50", "ae")
    assert tx.tokens("S&W M&P40") == ("s", "&", "w", "m", "&", "p", "40")
    assert tx.tokens("GlockSeventeen") == ("glock", "seventeen")
    assert tx.tokens("Desert Eagle .50") == ("desert", "eagle", "50")  # ".50" is not a file extension
