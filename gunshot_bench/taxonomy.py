"""The 32-model, 5-category firearm taxonomy: physical facts, aliases and label resolution.

The fixed order of `CATEGORIES` and `MODELS` is a contract: the ClassLabel ids of every
dataset build are indices into these tuples, so they live in code (a data edit cannot
reorder them) and the data file is checked against them when it is loaded.

The data lives in `data/taxonomy.json` (one entry per model with its aliases and physical
facts, plus category words, brand and ambiguous names, generic gunshot words and background
words) and `data/firearm_catalogue.csv` (a few hundred widely documented firearms outside the
32, each with its category, so that e.g. "Ruger 10/22" keeps the category rifle).

Label resolution works on real folder and file names. A name is normalised (case, accents,
`&`, separators, file extension) into tokens that split letters from digits, so "AK47",
"Ak 47", "ak_47" and "AK-47" all read ``ak 47``. An alias matches a run of whole tokens whose
concatenation equals the alias's, so surrounding tokens never break a match
("AK-47_C_24", "glock_17_9mm") and the longest alias wins ("M4 carbine" over "M4",
"Beretta M9A3" over "M9"). Names that could mean two things are resolved only where the rest
of the name decides it, otherwise kept at the level that is certain:

>>> resolve_label("fn_m249_minimi").model
'M249'
>>> resolve_label("M4").kind, resolve_label("M4").category
('gunshot', None)
>>> resolve_label("Benelli M4").category
'shotgun'
>>> resolve_label("crowd_noise").is_gunshot
False
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
import json
import re
import unicodedata
from importlib import resources

CATEGORIES: tuple[str, ...] = ("machine_gun", "pistol", "rifle", "shotgun", "submachine_gun")
#: Display names, parallel to `CATEGORIES`.
CATEGORY_NAMES: tuple[str, ...] = ("Machine gun", "Pistol", "Rifle", "Shotgun", "Submachine gun")

#: The 32 models in fixed order, grouped by category (the order is a contract, see above).
MODELS: tuple[str, ...] = (
    "M249", "MG-42", "RPK",
    "Glock 17", "Glock 19", "Glock 21", "Beretta PX4 Storm", "Beretta 92FS", "Desert Eagle",
    "Colt M1911", "SIG P225", "HK USP Compact", "S&W M&P40", "Kimber Tactical Custom",
    "Walther PPQ", "S&W .38 Revolver",
    "AK-47", "AK-12", "M16", "M4", "MK18", "Zastava M92", "SIG SG556", "Ruger AR-556",
    "Benelli Nova", "DP-12", "Kel-Tec KSG", "Remington 870",
    "MP5", "MP7", "UMP45", "Uzi",
)

#: Actions: how the weapon cycles. Automatic ones (`AUTOMATIC_ACTIONS`) have a cyclic rate.
ACTIONS: dict[str, str] = {
    "semi_auto": "self-loading, one shot per trigger pull",
    "select_fire": "self-loading with a fully automatic (or burst) mode",
    "full_auto": "fully automatic only (e.g. open-bolt machine guns)",
    "pump": "manually cycled by a sliding fore-end",
    "revolver": "rotating cylinder, double or single action",
    "bolt": "manually cycled bolt",
}
AUTOMATIC_ACTIONS = frozenset({"select_fire", "full_auto"})

#: Speed of sound in air at 20 degC; a load below it makes no ballistic N-wave.
SPEED_OF_SOUND_MPS = 343.0

# A firearm alias this short ("G18", "M9") is dropped when a longer firearm name is also present.
_SHORT_CODE_CHARS = 3
# A firearm alias made of digits alone needs at least this many ("1911", "870", "249").
_MIN_NUMBER_ALIAS_DIGITS = 3

LABEL_KINDS = frozenset({"model", "category", "gunshot", "background", "unresolved"})

# File endings stripped from a label before it is read ("AK-47_C_24.wav").
_FILE_EXTENSIONS = frozenset({
    "wav", "wave", "flac", "ogg", "oga", "opus", "mp3", "m4a", "aac", "wma", "aif", "aiff",
    "webm", "mp4", "mkv", "csv", "txt", "json",
})
# Cyrillic to Latin, enough for Russian weapon names ("АК-47", "РПК").
_CYRILLIC = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o", "p", "r",
     "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"],
))
_TOKEN_RE = re.compile(r"[a-z]+|[0-9]+|&")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])")


@dataclasses.dataclass(frozen=True)
class FirearmModel:
    """One of the 32 firearm models and the physical facts of its standard load.

    Attributes:
        name: display name (an entry of `MODELS`).
        category: one of `CATEGORIES`.
        aliases: other names that resolve to this model (the name itself resolves too).
        calibre: cartridge, e.g. "9x19mm Parabellum".
        muzzle_velocity_mps: muzzle velocity of the standard load from this barrel.
        barrel_length_mm: barrel length of the standard configuration.
        action: one of `ACTIONS`.
        cyclic_rate_rpm: rounds per minute in automatic fire; None unless `action` is automatic.
        bullet_diameter_mm: projectile diameter (for shotguns, that of one 00 buckshot pellet).
        bullet_mass_g: projectile mass (for shotguns, the whole shot charge).
        charge_grains: typical propellant charge of the standard load (sets blast strength).
        subsonic: True when the muzzle velocity is below the speed of sound (no N-wave).
        source: where the figures come from; "approx." marks estimated values.
        mechanism: (key, value) pairs of the action's physical facts (moving mass, spring,
            stroke, frame material, bolt, muzzle device, suppressor share) used by the simulator.
    """

    name: str
    category: str
    aliases: tuple[str, ...]
    calibre: str
    muzzle_velocity_mps: float
    barrel_length_mm: float
    action: str
    cyclic_rate_rpm: float | None
    bullet_diameter_mm: float
    bullet_mass_g: float
    charge_grains: float
    subsonic: bool
    source: str
    mechanism: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        where = f"firearm model {self.name!r}"
        if self.category not in CATEGORIES:
            raise ValueError(f"{where}: unknown category {self.category!r}; expected one of {CATEGORIES}")
        if self.action not in ACTIONS:
            raise ValueError(f"{where}: unknown action {self.action!r}; expected one of {tuple(ACTIONS)}")
        for field_name in ("muzzle_velocity_mps", "barrel_length_mm", "bullet_diameter_mm",
                           "bullet_mass_g", "charge_grains"):
            value = getattr(self, field_name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{where}: {field_name} must be a positive number, got {value!r}")
        automatic = self.action in AUTOMATIC_ACTIONS
        if automatic != (self.cyclic_rate_rpm is not None):
            raise ValueError(f"{where}: a cyclic rate is required for automatic actions and only for them "
                             f"(action {self.action!r}, cyclic_rate_rpm {self.cyclic_rate_rpm!r})")
        if self.cyclic_rate_rpm is not None and self.cyclic_rate_rpm <= 0:
            raise ValueError(f"{where}: cyclic_rate_rpm must be positive, got {self.cyclic_rate_rpm!r}")
        if self.subsonic != (self.muzzle_velocity_mps < SPEED_OF_SOUND_MPS):
            raise ValueError(f"{where}: subsonic={self.subsonic} contradicts muzzle velocity "
                             f"{self.muzzle_velocity_mps} m/s (speed of sound {SPEED_OF_SOUND_MPS} m/s)")
        if not isinstance(self.aliases, tuple):
            raise ValueError(f"{where}: aliases must be a tuple")

    @property
    def is_automatic(self) -> bool:
        """True for select-fire and fully automatic weapons (they fire bursts at `cyclic_rate_rpm`)."""
        return self.action in AUTOMATIC_ACTIONS


@dataclasses.dataclass(frozen=True)
class CatalogueEntry:
    """A widely documented firearm outside the 32 models: it resolves to its category only."""

    name: str
    aliases: tuple[str, ...]
    category: str
    calibre: str
    source: str

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("catalogue entry without a name")
        if self.category not in CATEGORIES:
            raise ValueError(f"catalogue entry {self.name!r}: unknown category {self.category!r}; "
                             f"expected one of {CATEGORIES}")


@dataclasses.dataclass(frozen=True)
class Label:
    """A raw label resolved against the taxonomy.

    Attributes:
        raw: the label as found (folder or file name).
        kind: "model" (model and category known), "category" (category known, model not),
            "gunshot" (a gunshot of unknown category), "background" (not a gunshot) or
            "unresolved" (nothing recognised; reported, never guessed).
        category: category id or None.
        model: model display name or None.
        note: why it resolved this way (ambiguity, catalogue firearm, what was not recognised).
    """

    raw: str
    kind: str
    category: str | None = None
    model: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in LABEL_KINDS:
            raise ValueError(f"label {self.raw!r}: unknown kind {self.kind!r}; expected one of {sorted(LABEL_KINDS)}")
        if self.category is not None and self.category not in CATEGORIES:
            raise ValueError(f"label {self.raw!r}: unknown category {self.category!r}")
        if self.model is not None:
            if self.model not in MODELS:
                raise ValueError(f"label {self.raw!r}: unknown model {self.model!r}")
            if self.kind != "model" or self.category != _model_categories()[self.model]:
                raise ValueError(f"label {self.raw!r}: model {self.model!r} needs kind 'model' and its own category")
        if self.kind == "model" and self.model is None:
            raise ValueError(f"label {self.raw!r}: kind 'model' needs a model")
        if self.kind == "category" and self.category is None:
            raise ValueError(f"label {self.raw!r}: kind 'category' needs a category")
        if self.kind in ("gunshot", "background", "unresolved") and self.category is not None:
            raise ValueError(f"label {self.raw!r}: kind {self.kind!r} carries no category")

    @property
    def is_gunshot(self) -> bool | None:
        """True for a firearm or gunshot label, False for background, None when unresolved."""
        if self.kind == "background":
            return False
        if self.kind == "unresolved":
            return None
        return True


# ---------------------------------------------------------------------------------------
# Loading


def _read_text(name: str) -> str:
    return resources.files("gunshot_bench").joinpath("data", name).read_text(encoding="utf-8")


@functools.cache
def _data() -> dict:
    return json.loads(_read_text("taxonomy.json"))


@functools.cache
def _models() -> dict[str, FirearmModel]:
    """Name -> FirearmModel, in `MODELS` order; checks the data file against the fixed order."""
    entries = _data()["models"]
    names = tuple(entry["name"] for entry in entries)
    if names != MODELS:
        raise ValueError("data/taxonomy.json: models differ from the fixed MODELS order: "
                         f"{sorted(set(names) ^ set(MODELS)) or 'same names, different order'}")
    models = {}
    for entry in entries:
        fields = dict(entry, aliases=tuple(entry["aliases"]))
        fields["cyclic_rate_rpm"] = None if entry["cyclic_rate_rpm"] is None else float(entry["cyclic_rate_rpm"])
        fields["mechanism"] = tuple(sorted(entry.get("mechanism", {}).items()))
        models[entry["name"]] = FirearmModel(**fields)
    return models


@functools.cache
def _model_categories() -> dict[str, str]:
    return {name: model.category for name, model in _models().items()}


@functools.cache
def catalogue() -> tuple[CatalogueEntry, ...]:
    """The catalogue of firearms outside the 32 models (data/firearm_catalogue.csv)."""
    rows = csv.DictReader(_read_text("firearm_catalogue.csv").splitlines())
    entries = []
    for line, row in enumerate(rows, start=2):
        try:
            aliases = tuple(a.strip() for a in (row["aliases"] or "").split("|") if a.strip())
            entries.append(CatalogueEntry(row["name"].strip(), aliases, row["category"].strip(),
                                          row["calibre"].strip(), row["source"].strip()))
        except (KeyError, AttributeError, ValueError) as error:
            raise ValueError(f"data/firearm_catalogue.csv line {line}: {error}") from error
    return tuple(entries)


# ---------------------------------------------------------------------------------------
# Normalisation


def tokens(text: str) -> tuple[str, ...]:
    """Normalised tokens of a label: lower case, no accents, letters split from digits.

    A trailing file extension is dropped, `&` is kept as a token (so "M&P" differs from "MP"),
    and every other character separates tokens.

    >>> tokens("AK-47_C_24.wav")
    ('ak', '47', 'c', '24')
    >>> tokens("S&W .38 Special")
    ('s', '&', 'w', '38', 'special')
    """
    # camelCase boundaries become separators ("RugerMarkIII"); matching is by concatenation,
    # so an extra boundary never breaks an alias.
    # "7.62×39mm" (multiplication sign, as encyclopedias write calibres) reads like "7.62x39mm"
    text = _CAMEL_RE.sub(" ", unicodedata.normalize("NFKD", text.strip().replace("×", "x")))
    text = text.lower()
    stem, dot, extension = text.rpartition(".")
    if dot and extension.strip() in _FILE_EXTENSIONS:
        text = stem
    text = "".join(_CYRILLIC.get(ch, ch) for ch in text if not unicodedata.combining(ch))
    return tuple(_TOKEN_RE.findall(text))


def _join(toks: tuple[str, ...] | list[str]) -> str:
    """Concatenate tokens, keeping a '.' between two numbers so "M4_0" never reads "M40"."""
    out = []
    for i, tok in enumerate(toks):
        if i and tok.isdigit() and toks[i - 1].isdigit():
            out.append(".")
        out.append(tok)
    return "".join(out)


def _key(text: str) -> str:
    return _join(tokens(text))


# ---------------------------------------------------------------------------------------
# The alias index


@dataclasses.dataclass(frozen=True)
class _Option:
    """One thing an alias may mean: a model, a catalogue firearm, or just a category."""

    category: str | None
    model: str | None = None
    catalogue: str | None = None

    @property
    def specific(self) -> bool:
        return self.model is not None or self.catalogue is not None

    def describe(self) -> str:
        name = self.model or self.catalogue
        return f"{name} ({self.category})" if name else str(self.category)


@dataclasses.dataclass(frozen=True)
class _Entry:
    """What one alias key means. kind: firearm, ambiguous, category, gunshot or background."""

    kind: str
    alias: str  # the target's name (firearms) or the word itself
    options: tuple[_Option, ...] = ()
    note: str = ""
    alias_text: str = ""  # the alias as written in the data (firearms: which spelling matched)
    weak: bool = False  # a number alone ("870") or an everyday word ("Nova"): see `_weak_aliases`


def _variants(alias: str) -> list[str]:
    """Keys under which `alias` is indexed: as written, and with '&' dropped or spelled 'and'."""
    key = _key(alias)
    return [key] + ([key.replace("&", ""), key.replace("&", "and")] if "&" in key else [])


def _option_for(spec: dict, models: dict[str, FirearmModel], entries: dict[str, CatalogueEntry]) -> _Option:
    if "model" in spec:
        return _Option(models[spec["model"]].category, model=spec["model"])
    if "catalogue" in spec:
        return _Option(entries[spec["catalogue"]].category, catalogue=spec["catalogue"])
    if spec.get("category") not in CATEGORIES:
        raise ValueError(f"data/taxonomy.json: bad option {spec!r}")
    return _Option(spec["category"])


@functools.cache
def _index() -> dict[str, _Entry]:
    """Alias key -> entry. Two different meanings for one explicit key is an error in the data."""
    data, models = _data(), _models()
    entries = {entry.name: entry for entry in catalogue()}
    index: dict[str, _Entry] = {}

    variants: list[tuple[str, _Entry]] = []

    def add(alias: str, entry: _Entry) -> None:
        key, *others = _variants(alias)
        if not any(ch.isalpha() for ch in key):
            # A number alone names a firearm only when it is long and distinctive ("1911", "870");
            # shorter ones ("17", "47") are take ids. Even these match only weakly (`_weak_aliases`).
            if not (key.isdigit() and len(key) >= _MIN_NUMBER_ALIAS_DIGITS and entry.kind == "firearm"):
                raise ValueError(f"taxonomy data: alias {alias!r} of {entry.alias!r} needs a letter "
                                 f"(numbers alone are take ids, not names, unless a firearm's number of "
                                 f"{_MIN_NUMBER_ALIAS_DIGITS}+ digits)")
            entry = dataclasses.replace(entry, weak=True)
        elif entry.kind == "firearm" and key in everyday:
            entry = dataclasses.replace(entry, weak=True)
        old = index.get(key)
        if old is not None and (old.kind, old.options) != (entry.kind, entry.options):
            raise ValueError(f"taxonomy data: alias {alias!r} means both {old.alias!r} ({old.kind}) "
                             f"and {entry.alias!r} ({entry.kind}); declare it ambiguous in taxonomy.json")
        index[key] = entry
        variants.extend((other, entry) for other in others)

    everyday = {_key(w) for w in data.get("everyday_words", [])}
    ambiguous_keys = {_key(a) for item in data["ambiguous"] for a in item["aliases"]}
    for item in data["ambiguous"]:
        options = tuple(_option_for(spec, models, entries) for spec in item["options"])
        for alias in item["aliases"]:
            add(alias, _Entry("ambiguous", alias, options, item["note"]))
    for model in models.values():
        option = (_Option(model.category, model=model.name),)
        names = ([] if _key(model.name) in ambiguous_keys else [model.name]) + list(model.aliases)
        for alias in names:
            add(alias, _Entry("firearm", model.name, option, alias_text=alias))
    for entry in entries.values():
        option = (_Option(entry.category, catalogue=entry.name),)
        names = ([] if _key(entry.name) in ambiguous_keys else [entry.name]) + list(entry.aliases)
        for alias in names:
            add(alias, _Entry("firearm", entry.name, option, alias_text=alias))
    for category, aliases in data["category_terms"].items():
        for alias in aliases:
            add(alias, _Entry("category", alias, (_Option(category),)))
    for alias in data["gunshot_terms"]:
        add(alias, _Entry("gunshot", alias))
    for alias in data["background_terms"]:
        add(alias, _Entry("background", alias))
    for key, entry in variants:  # spellings without '&' never override an explicit alias
        index.setdefault(key, entry)
    brands = [tokens(a) for item in data["ambiguous"] if all("category" in o for o in item["options"])
              for a in item["aliases"]]
    for key, entry in _without_maker(models, entries, brands).items():
        index.setdefault(key, entry)  # never overrides an explicit alias
    return index


def _without_maker(models: dict, entries: dict, brands: list[tuple[str, ...]]) -> dict[str, _Entry]:
    """Names without their maker ("Ruger GP100" -> "GP100", "Mossberg 500" -> "500"), derived for
    every firearm whose name starts with a brand, so the data need not list them one by one.

    Only model codes are derived: a remainder with letters and digits ("P226", "Model 29", "M70"),
    or a number of 3+ digits ("500", weak like every number alone). A remainder of words alone
    ("King Cobra", "Commander") is an everyday phrase and is not derived; a remainder two
    firearms share ("15": AK-15 and FN 15) is dropped.
    """
    found: dict[str, list[_Entry]] = {}
    named = [(m.name, _Option(m.category, model=m.name)) for m in models.values()]
    named += [(e.name, _Option(e.category, catalogue=e.name)) for e in entries.values()]
    for name, option in named:
        toks = tokens(name)
        brand = max((b for b in brands if len(b) < len(toks) and toks[:len(b)] == b), key=len, default=None)
        if brand is None:
            continue
        key = _join(toks[len(brand):])
        letters, digits = any(c.isalpha() for c in key), any(c.isdigit() for c in key)
        if len(key) < 3 or not digits or (not letters and not key.isdigit()):
            continue
        found.setdefault(key, []).append(_Entry("firearm", name, (option,), alias_text=name, weak=not letters))
    return {key: options[0] for key, options in found.items() if len(options) == 1}


@functools.cache
def _max_key_length() -> int:
    return max(len(key) for key in _index())


@dataclasses.dataclass(frozen=True)
class _Match:
    entry: _Entry
    text: str  # the matched tokens as they appear in the label, e.g. "ak 47"
    chars: int  # length of the matched key ("ak47": 4)


def _matches(toks: tuple[str, ...]) -> list[_Match]:
    """Aliases that match a run of whole tokens, minus those inside a longer match."""
    index, longest = _index(), _max_key_length()
    found = []
    for start in range(len(toks)):
        key = ""
        for stop in range(start, len(toks)):
            if stop > start and toks[stop].isdigit() and toks[stop - 1].isdigit():
                key += "."
            key += toks[stop]
            if len(key) > longest:
                break
            if key in index:
                found.append((start, stop + 1, _Match(index[key], " ".join(toks[start:stop + 1]), len(key))))
    return [m for a, b, m in found
            if not any(c <= a and b <= d and d - c > b - a for c, d, _ in found)]


# ---------------------------------------------------------------------------------------
# Resolution


def _label(raw: str, option: _Option, note: str = "") -> Label:
    if option.model is not None:
        return Label(raw, "model", option.category, option.model, note)
    if option.catalogue is not None:
        note = _notes(f"firearm outside the 32 models: {option.catalogue} ({option.category}; catalogue)", note)
    return Label(raw, "category", option.category, None, note)


def _unique(items):
    return list(dict.fromkeys(items))


def _notes(*parts: str) -> str:
    return "; ".join(_unique(p for p in parts if p))


def resolve_label(raw: str) -> Label:
    """Resolve a folder or file name against the taxonomy.

    Precedence: a named firearm (one of the 32, or a catalogue firearm) wins over brand and
    ambiguous names, which the rest of the name may narrow ("M4 rifle" -> M4, "Ruger pistol"
    -> pistol); then category words, generic gunshot words, background words. A label with
    both gunshot and background words and no firearm name, or with nothing recognised, is
    "unresolved" with a note.

    Args:
        raw: the label as found, e.g. "AK-47_C_24.wav", "H&K MP5", "crowd_noise".

    Returns:
        A `Label`; its `note` says why whenever the result is not a plain model.
    """
    return _resolve_cached(raw)


@functools.lru_cache(maxsize=65536)
def _resolve_cached(raw: str) -> Label:
    toks = tokens(raw)
    if not toks:
        return Label(raw, "unresolved", note="empty label (no letters or digits)")
    groups: dict[str, list[_Match]] = {}
    for match in _matches(toks):
        groups.setdefault(match.entry.kind, []).append(match)
    _weak_aliases(toks, groups)
    if all(t.isdigit() for t in toks) and not groups:
        return Label(raw, "unresolved", note=f"numeric-only label {raw!r} names nothing")
    background = groups.pop("background", [])
    gunshot = groups.pop("gunshot", [])
    if groups:  # firearm, brand/ambiguous or category names
        label = _from_names(raw, groups)
        if background:
            words = ", ".join(_unique(m.text for m in background))
            label = dataclasses.replace(label, note=_notes(label.note, f"also names background: {words}"))
        return label
    if gunshot and background:
        words = ", ".join(_unique(m.text for m in gunshot + background))
        return Label(raw, "unresolved", note=f"names both gunshot and background words ({words})")
    if gunshot:
        return Label(raw, "gunshot")
    if background:
        return Label(raw, "background")
    return Label(raw, "unresolved", note=f"no firearm, category, gunshot or background name recognised in "
                                         f"{raw!r} (tokens: {' '.join(toks)})")


def _weak_aliases(toks: tuple[str, ...], groups: dict[str, list[_Match]]) -> None:
    """Keep a firearm named by a number alone ("870") or an everyday word ("Nova", "Vector")
    only when that is the whole label or a category or brand word of the name agrees
    ("1911_pistol", "Colt45_1911", "nova_shotgun"): a bare number inside a file name
    ("shot_870.wav") is more likely a take id, and "chevy_nova_engine" is a car."""
    numeric = [m for m in groups.get("firearm", []) if m.entry.weak]
    if not numeric:
        return
    context = {o.category for kind in ("category", "ambiguous") for m in groups.get(kind, []) for o in m.entry.options}
    for m in numeric:
        if not (m.text == " ".join(toks) or m.entry.options[0].category in context):
            groups["firearm"].remove(m)
    if not groups["firearm"]:
        del groups["firearm"]


def close_matches(raw: str, n: int = 3) -> list[str]:
    """Names of the taxonomy that look like `raw` (for a person fixing an unresolved label).

    >>> close_matches("Glok 17")[0]
    'Glock 17'
    """
    index = _index()
    keys = difflib.get_close_matches(_key(raw), list(index), n=n * 4, cutoff=0.75)
    return _unique(index[k].alias for k in keys)[:n]  # the firearm's name, or the word itself


def _from_names(raw: str, groups: dict[str, list[_Match]]) -> Label:
    """Resolve the firearm, brand/ambiguous and category names found in one label."""
    firearms, dropped = groups.get("firearm", []), ""
    if len(_unique(m.entry.options[0] for m in firearms)) > 1:
        # Two firearms named. A short code beside a longer name is more likely a take id than
        # a second firearm: "Carl_Gustav_M45_Swedish_K_G_19" is no Glock 19.
        short = [m for m in firearms if m.chars <= _SHORT_CODE_CHARS]
        if short and len(short) < len(firearms):
            firearms = [m for m in firearms if m not in short]
            dropped = "also matched " + ", ".join(f"{m.text!r} ({m.entry.options[0].describe()})" for m in short)
    specific = _unique(m.entry.options[0] for m in firearms)
    if len(specific) == 1:
        return _label(raw, specific[0], dropped)
    if specific:
        names = ", ".join(o.describe() for o in specific)
        categories = _unique(o.category for o in specific)
        if len(categories) == 1:
            return Label(raw, "category", categories[0], None, f"several firearms of one category: {names}")
        return Label(raw, "gunshot", None, None, f"several firearms of different categories: {names}")

    ambiguous, named = groups.get("ambiguous", []), groups.get("category", [])
    allowed = {m.entry.options[0].category for m in named} or set(CATEGORIES)
    for match in ambiguous:
        allowed &= {o.category for o in match.entry.options}
    words = ", ".join(_unique(m.text for m in ambiguous + named))
    if not allowed:
        return Label(raw, "gunshot", None, None, f"contradictory names ({words}): category unknown")
    if not ambiguous:
        if len(allowed) == 1:
            return Label(raw, "category", allowed.pop())
        return Label(raw, "gunshot", None, None, f"several categories named: {words}")
    notes = _notes(*(m.entry.note for m in ambiguous))
    narrowed = bool(named) or len(ambiguous) > 1
    if len(allowed) == 1:
        candidates = _unique(o for m in ambiguous for o in m.entry.options if o.specific and o.category in allowed)
        decided = f"decided by the rest of the name ({words})" if narrowed else ""
        if len(candidates) == 1 and narrowed:
            return _label(raw, candidates[0], _notes(notes, decided))
        return Label(raw, "category", allowed.pop(), None, _notes(notes, decided))
    return Label(raw, "gunshot", None, None, notes)


# ---------------------------------------------------------------------------------------
# Lookups


@functools.cache
def _model_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for model in _models().values():
        for alias in (model.name, *model.aliases):
            for key in _variants(alias):
                keys.setdefault(key, model.name)
    return keys


def get_model(name: str) -> FirearmModel:
    """The model called `name` (display name or any alias, in any spelling).

    Raises:
        KeyError: not one of the 32 models; the message lists close matches.
    """
    models = _models()
    if name in models:
        return models[name]
    found = _model_keys().get(_key(name))
    if found is not None:
        return models[found]
    choices = list(models) + [a for m in models.values() for a in m.aliases]
    close = difflib.get_close_matches(name, choices, n=5, cutoff=0.5)
    raise KeyError(f"{name!r} is not one of the 32 firearm models" +
                   (f"; did you mean {', '.join(map(repr, close))}?" if close else ""))


def models_in(category: str) -> tuple[str, ...]:
    """Model names of `category`, in `MODELS` order."""
    category = CATEGORIES[category_index(category)]
    return tuple(name for name, model in _models().items() if model.category == category)


def category_of(model_name: str) -> str:
    """Category id of a model (display name or alias)."""
    return get_model(model_name).category


def model_index(name: str) -> int:
    """ClassLabel id of a model: its index in `MODELS`."""
    return MODELS.index(get_model(name).name)


def category_index(category: str) -> int:
    """ClassLabel id of a category (id such as "submachine_gun" or display name "Submachine gun")."""
    if category in CATEGORIES:
        return CATEGORIES.index(category)
    if category in CATEGORY_NAMES:
        return CATEGORY_NAMES.index(category)
    close = difflib.get_close_matches(str(category), CATEGORIES + CATEGORY_NAMES, n=3, cutoff=0.5)
    raise KeyError(f"{category!r} is not a category; expected one of {CATEGORIES}" +
                   (f"; did you mean {', '.join(map(repr, close))}?" if close else ""))


def display_name(category: str, model: str | None = None) -> str:
    """Human-readable prediction, e.g. "Pistol - Glock 17", or "Pistol" without a model."""
    text = CATEGORY_NAMES[category_index(category)]
    return f"{text} - {get_model(model).name}" if model is not None else text
