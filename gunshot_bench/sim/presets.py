"""Corpus presets: how many recordings of which model or background, and how long each is.

The counting rule is study A's: a recording is cut into consecutive non-overlapping 2.0 s
segments at its native rate, the tail shorter than 2 s dropped. A recording planned to yield k
segments therefore lasts 2k s plus a tail drawn in (0.05, 1.9) s, and the plan's segment counts
are exactly what a build will cut.

- `paper`: study A's size and imbalance: 3,343 gunshot segments over the 32 models. Study A
  reports a few class sizes (MK18 43, M4 162, Glock 17 456) and that the classes are naturally
  imbalanced; the other counts below are chosen in that spirit (not taken from the paper), with
  a shotgun (DP-12, Kel-Tec KSG, Benelli Nova) and a machine gun (RPK) under 50. Each model is
  spread over 6-40 recordings (about one recording per 12 segments) so grouped splits mean
  something. Backgrounds: 34 kinds x 48 segments (1,632) in 6 recordings each.
- `small`: every model with 6 recordings and 12-18 segments (3 sessions, 2 guns); every
  background kind with 6 segments in 3 recordings.
- `tiny`: for tests: every model with 3 one-segment recordings; 3 one-segment recordings per
  background kind of `TINY_KINDS`.
- `diverse`: `paper`'s sizes with every recording drawn independently over the full range of
  places, distances and chains (robustness work). `paper`, `small` and `tiny` are "collection"
  style: a few sessions per model, mostly near-field range recordings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gunshot_bench.errors import UserError
from gunshot_bench.rng import derive_rng
from gunshot_bench.taxonomy import MODELS, get_model, resolve_label

BACKGROUND_KINDS = ("crowd", "scream", "street", "wind", "rain", "music", "fireworks", "door_slam",
                    "balloon_pop", "bag_pop", "clap", "hammering", "car_backfire",
                    # the urban classes of Salamon et al. (2014)
                    "air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling", "engine_idling",
                    "jackhammer", "siren", "street_music",
                    # firearm handling without a shot
                    "magazine_noise", "slide_rack_noise", "dry_fire_noise", "case_drop_noise",
                    # more impulsive confusers
                    "nail_gun", "construction_impact_noise", "lid_slam_noise", "thunder", "sports_ball_noise",
                    # long quiet ambiences
                    "ambience_car_park", "ambience_square", "ambience_office")
STYLES = ("collection", "diverse")
#: The kinds `tiny` renders (the test suite builds it often): the original 13 and one or two per new group.
TINY_KINDS = BACKGROUND_KINDS[:13] + ("air_conditioner", "engine_idling", "jackhammer", "slide_rack_noise",
                                      "magazine_noise", "ambience_office")

#: Gunshot segments per model in the `paper` preset (sum 3,343).
PAPER_COUNTS = {
    "M249": 112, "MG-42": 95, "RPK": 38,
    "Glock 17": 456, "Glock 19": 88, "Glock 21": 64, "Beretta PX4 Storm": 57, "Beretta 92FS": 71,
    "Desert Eagle": 107, "Colt M1911": 92, "SIG P225": 52, "HK USP Compact": 60, "S&W M&P40": 66,
    "Kimber Tactical Custom": 54, "Walther PPQ": 61, "S&W .38 Revolver": 241,
    "AK-47": 176, "AK-12": 104, "M16": 148, "M4": 162, "MK18": 43, "Zastava M92": 97,
    "SIG SG556": 58, "Ruger AR-556": 219,
    "Benelli Nova": 47, "DP-12": 39, "Kel-Tec KSG": 44, "Remington 870": 168,
    "MP5": 118, "MP7": 66, "UMP45": 57, "Uzi": 83,
}
MAX_SEGMENTS = 100_000  # more than this many segments per preset is an input error


@dataclass(frozen=True)
class RecordingPlan:
    """One recording to synthesise. `model` is None for a background; `kind` is "gunshot" or the
    background kind."""

    recording_id: str
    kind: str
    model: str | None
    category: str | None
    n_segments: int
    tail_s: float
    #: Recording session (same place, microphone and chain; "" = its own session), the physical
    #: gun used (index among the model's guns) and the preset's style ("collection" or "diverse").
    session: str = ""
    gun: int = 0
    style: str = "collection"

    def __post_init__(self):
        if self.n_segments < 1:
            raise ValueError(f"{self.recording_id}: n_segments must be >= 1, got {self.n_segments}")
        if not 0.05 < self.tail_s < 1.9:
            raise ValueError(f"{self.recording_id}: tail {self.tail_s} s outside (0.05, 1.9)")
        if self.style not in STYLES:
            raise ValueError(f"{self.recording_id}: style {self.style!r} not one of {STYLES}")

    @property
    def duration_s(self) -> float:
        return 2.0 * self.n_segments + self.tail_s


@dataclass(frozen=True)
class Preset:
    """Sizes of a preset: segments and recordings per model, per background kind.

    `style` "collection" groups each model's recordings into a few sessions (same place,
    microphone and chain; mostly near-field range recordings, like study A's collections) made
    with `guns_per_model` physical guns; "diverse" draws every recording independently over the
    full range of places, distances and chains.
    """

    name: str
    model_segments: tuple[tuple[str, int], ...]
    model_recordings: tuple[tuple[str, int], ...]
    background_segments: int
    background_recordings: int
    style: str = "collection"
    guns_per_model: int = 3
    background_kinds: tuple[str, ...] = ()  # () = every kind in BACKGROUND_KINDS

    def __post_init__(self):
        seg, rec = dict(self.model_segments), dict(self.model_recordings)
        if set(seg) != set(rec) or any(m not in MODELS for m in seg):
            raise ValueError(f"preset {self.name}: models must be taxonomy models, same in both tables")
        for m in seg:
            if rec[m] < 1 or seg[m] < rec[m]:
                raise ValueError(f"preset {self.name}: {m} needs 1 <= recordings ({rec[m]}) <= segments ({seg[m]})")
        if self.style not in STYLES or self.guns_per_model < 1:
            raise ValueError(f"preset {self.name}: style must be one of {STYLES} and guns_per_model >= 1")
        if set(self.background_kinds) - set(BACKGROUND_KINDS):
            unknown = sorted(set(self.background_kinds) - set(BACKGROUND_KINDS))
            raise ValueError(f"preset {self.name}: unknown background kinds {unknown}")
        if not 1 <= self.background_recordings <= self.background_segments:
            raise ValueError(f"preset {self.name}: need 1 <= background recordings <= background segments")
        if sum(seg.values()) + self.background_segments * len(self.kinds) > MAX_SEGMENTS:
            raise ValueError(f"preset {self.name}: more than {MAX_SEGMENTS} segments is not a sane corpus")


    @property
    def kinds(self) -> tuple[str, ...]:
        """The background kinds this preset renders."""
        return self.background_kinds or BACKGROUND_KINDS


def sessions_for(n_recordings: int) -> int:
    """A few sessions per model: 3 for up to 11 recordings, one more per 12 recordings after that."""
    return min(n_recordings, 3 + n_recordings // 12)


def _recordings_for(count: int) -> int:
    return int(min(40, max(6, round(count / 12))))


PRESETS: dict[str, Preset] = {
    "paper": Preset("paper", tuple(PAPER_COUNTS.items()),
                    tuple((m, _recordings_for(c)) for m, c in PAPER_COUNTS.items()), 48, 6),
    # study A's sizes with today's wide randomisation (every recording its own place and chain)
    "diverse": Preset("diverse", tuple(PAPER_COUNTS.items()),
                      tuple((m, _recordings_for(c)) for m, c in PAPER_COUNTS.items()), 48, 6, style="diverse"),
    "small": Preset("small", tuple((m, 12 + 6 * (i % 2)) for i, m in enumerate(MODELS)),
                    tuple((m, 6) for m in MODELS), 6, 3, guns_per_model=2),
    # three one-segment recordings per background kind, so that noise reaches every split
    "tiny": Preset("tiny", tuple((m, 3) for m in MODELS), tuple((m, 3) for m in MODELS), 3, 3,
                   guns_per_model=2, background_kinds=TINY_KINDS),
}


def _safe(text: str) -> str:
    text = text.replace("&", "").replace(".", "").replace("/", "_").replace("-", "_").replace(" ", "_")
    return "_".join(part for part in text.split("_") if part)


def model_dir(model: str) -> str:
    """File-system-safe folder name of a model that `resolve_label` resolves back to it.

    The display name comes first ("Glock_17", "SW_38_Revolver"); where it is ambiguous on its
    own ("M4" also names a shotgun) the first alias that resolves to the model is used
    ("M4_Carbine").

    >>> model_dir("S&W .38 Revolver")
    'SW_38_Revolver'
    """
    info = get_model(model)
    for candidate in (info.name, *info.aliases):
        name = _safe(candidate)
        if name and resolve_label(name).model == model:
            return name
    raise ValueError(f"no file-system-safe name of '{model}' resolves back to it; add an alias to the taxonomy")


def _split(total: int, parts: int, rng: np.random.Generator) -> list[int]:
    """`total` split into `parts` positive integers with a natural spread (Dirichlet weights)."""
    weights = rng.dirichlet(np.full(parts, 2.0))
    counts = 1 + np.floor(weights * (total - parts)).astype(int)
    for i in np.argsort(-weights)[: total - counts.sum()]:
        counts[i] += 1
    return [int(c) for c in counts]


def plan(preset: str | Preset, seed: int = 0) -> list[RecordingPlan]:
    """Every recording of a preset, in a fixed order; depends only on the preset and the seed."""
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise UserError(f"unknown preset '{preset}'; known presets: {', '.join(sorted(PRESETS))}")
        preset = PRESETS[preset]
    if not isinstance(seed, int) or seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed!r}")
    out = []
    recs = dict(preset.model_recordings)
    for model, total in preset.model_segments:
        rng = derive_rng(seed, "sim-plan", preset.name, model)
        category = get_model(model).category
        n_rec = recs[model]
        # Sessions: consecutive recordings share one; guns are handed out in turn over the sessions.
        if preset.style == "diverse":
            session_of = list(range(n_rec))
        else:
            sizes = _split(n_rec, sessions_for(n_rec), derive_rng(seed, "sim-sessions", preset.name, model))
            session_of = [s for s, size in enumerate(sizes) for _ in range(size)]
        for i, k in enumerate(_split(total, n_rec, rng)):
            session = session_of[i]
            out.append(RecordingPlan(f"sim-{model_dir(model)}-r{i:03d}", "gunshot", model, category, k,
                                     float(rng.uniform(0.06, 1.89)), f"sim-{model_dir(model)}-s{session:02d}",
                                     session % preset.guns_per_model, preset.style))
    for kind in preset.kinds:
        rng = derive_rng(seed, "sim-plan", preset.name, kind)
        for i, k in enumerate(_split(preset.background_segments, preset.background_recordings, rng)):
            out.append(RecordingPlan(f"sim-{kind}-r{i:03d}", kind, None, None, k, float(rng.uniform(0.06, 1.89)),
                                     style=preset.style))
    return out


def plan_counts(recordings: list[RecordingPlan]) -> dict[str, int]:
    """Segments per model (gunshots) or per background kind."""
    counts: dict[str, int] = {}
    for r in recordings:
        key = r.model or r.kind
        counts[key] = counts.get(key, 0) + r.n_segments
    return counts
