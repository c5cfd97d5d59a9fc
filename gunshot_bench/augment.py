"""Train-time augmentation: the recording conditions the simulator cannot enumerate, drawn per epoch.

A model trained on simulated audio meets real audio through microphones, codecs, phones and
ambiences that the simulated corpus covers only in part. Each training clip is therefore
re-recorded, at random, through a chain of degradations before its features are computed
(features stay pure per clip: only the waveform changes):

1. time shift by up to `shift_max_s` (audiomentations `Shift`, no rollover: the shot moves
   within the 2 s window as it would in a real cut);
2. background mixing at a random SNR (`variants.mixing.mix_at_snr`, event SNR by default): a
   background segment of the TRAINING split, never of validation or test;
3. band-limiting: a microphone/preamp high-pass and low-pass (audiomentations `HighPassFilter`,
   `LowPassFilter`, `band_rolloff_db_per_octave`);
4. sample-rate degradation: down to a phone or web rate and back to 44.1 kHz with soxr (no
   audiomentations transform does down-and-back with an anti-alias filter, as a real chain
   does: `Resample` changes the output rate and `Aliasing` omits the filter);
5. gain (audiomentations `Gain`);
6. lossy compression: a real MP3 encode and decode (audiomentations `Mp3Compression`,
   fast-mp3-augment backend, delay compensated).

Parameters are drawn by `draw_params` from `gunshot_bench.rng.derive_rng(seed, "augment",
clip_key, epoch)` and applied by `apply_params` (audiomentations' own split of randomisation
from application), so a clip's augmentation depends only on the run seed, the clip id and the
epoch, never on the batch or on the other clips. Every drawn value is returned, so a run can
record what it did.

Example:
    >>> cfg = AugmentConfig(gain_p=1.0, band_p=0.0, resample_p=0.0, codec_p=0.0,
    ...                     background_p=0.0, shift_p=0.0)
    >>> x = np.full(44100, 0.1, np.float32)
    >>> y, params = augment_clip(x, cfg, seed=0, clip_key="a#0", epoch=1)
    >>> bool(np.isclose(20 * np.log10(y[100] / x[100]), params["gain_db"], atol=1e-3))
    True
"""

from __future__ import annotations

import dataclasses
import random
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import audiomentations
import numpy as np
import soxr

from gunshot_bench.errors import UserError
from gunshot_bench.rng import derive_rng, stable_hash
from gunshot_bench.variants.mixing import SNR_DEFINITIONS, UndefinedLevelError, mix_at_snr

SAMPLE_RATE = 44100
#: Training clips augmented at a time by `Augmenter.copy_chunks`: 256 clips are ~90 MB of
#: float32 waveforms, the size of the MFCC chunks (`features._MFCC_CHUNK`).
COPY_CHUNK_CLIPS = 256
_RANGES = ("shift_max_s", "background_snr_db", "highpass_hz", "lowpass_hz", "sample_rate_hz",
           "gain_db", "codec_bitrate_kbps")


@dataclass(frozen=True)
class AugmentConfig:
    """How training clips are augmented; a baseline's `[augment]` table maps onto these fields.

    Attributes:
        p: probability that a clip is augmented at all in an epoch (the others are used as
            they are; their features are reused, which keeps an epoch cheap).
        copies: augmented copies of the training set for models trained once (the classical
            entries); the torch entries draw a fresh augmentation every epoch instead.
        *_p: probability of each stage, given that the clip is augmented.
        shift_max_s: largest time shift, either direction.
        background_snr_db: (low, high) SNR of the mixed background; `snr_definition` "event"
            (the shot against the noise while it sounds) or "clip" (whole segment).
        highpass_hz, lowpass_hz: (low, high) cut-off ranges of the band-limiting filters.
        sample_rate_hz: (low, high) rate to degrade to (one of `SAMPLE_RATES` in that range).
        gain_db: (low, high) gain.
        codec_bitrate_kbps: (low, high) MP3 bitrate (one of `MP3_BITRATES_KBPS` in that range).
    """

    p: float = 0.7
    copies: int = 1
    shift_p: float = 0.5
    shift_max_s: float = 0.5
    background_p: float = 0.5
    background_snr_db: tuple[float, float] = (0.0, 30.0)
    snr_definition: str = "event"
    band_p: float = 0.5
    highpass_hz: tuple[float, float] = (40.0, 400.0)
    lowpass_hz: tuple[float, float] = (3000.0, 16000.0)
    band_rolloff_db_per_octave: int = 12
    resample_p: float = 0.2
    sample_rate_hz: tuple[float, float] = (8000.0, 22050.0)
    gain_p: float = 0.5
    gain_db: tuple[float, float] = (-12.0, 6.0)
    codec_p: float = 0.3
    codec_bitrate_kbps: tuple[float, float] = (24.0, 96.0)

    def __post_init__(self):
        for name in _RANGES[1:]:
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 2 or value[0] > value[1]:
                raise UserError(f"augment.{name} must be [low, high] with low <= high, got {list(value)}")
            object.__setattr__(self, name, value)
        for f in dataclasses.fields(self):
            if f.name == "p" or f.name.endswith("_p"):
                if not 0.0 <= float(getattr(self, f.name)) <= 1.0:
                    raise UserError(f"augment.{f.name} must be a probability in [0, 1], got {getattr(self, f.name)}")
        if self.snr_definition not in SNR_DEFINITIONS:
            raise UserError(f"augment.snr_definition must be one of {', '.join(SNR_DEFINITIONS)}")
        if not 0 <= self.shift_max_s < 2.0 or int(self.copies) < 0:
            raise UserError("augment.shift_max_s must be in [0, 2) s and augment.copies >= 0")
        if self.band_rolloff_db_per_octave % 6 or not 6 <= self.band_rolloff_db_per_octave <= 48:
            raise UserError("augment.band_rolloff_db_per_octave must be a multiple of 6 in 6-48")
        if self.highpass_hz[1] >= self.lowpass_hz[0] or self.lowpass_hz[1] >= SAMPLE_RATE / 2:
            raise UserError("augment: highpass_hz must lie below lowpass_hz, and lowpass_hz below 22.05 kHz")
        if not (4000 <= self.sample_rate_hz[0] and self.sample_rate_hz[1] < SAMPLE_RATE):
            raise UserError("augment.sample_rate_hz must lie in [4000, 44100) Hz")

    @classmethod
    def from_dict(cls, table: dict | None) -> "AugmentConfig | None":
        """The config of a baseline's `[augment]` table; None for no table or `enabled = false`.

        Raises:
            ValueError: an unknown key (naming the known ones) or a bad value.
        """
        if table is None:
            return None
        table = dict(table)
        if not table.pop("enabled", True):
            return None
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise UserError(f"[augment] has no key {', '.join(unknown)}; it takes enabled, {', '.join(sorted(known))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in table.items()})

    def as_dict(self) -> dict:
        """JSON-ready fields (ranges as lists), as recorded in a run's config.json."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


#: Degraded rates drawn from (telephone, wideband speech, web video, half CD).
SAMPLE_RATES = (8000, 11025, 16000, 22050, 32000)
#: The bitrates an MP3 encoder offers (MPEG-1/2 layer III), as audiomentations accepts them.
MP3_BITRATES_KBPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 192, 224, 256, 320)


def draw_params(config: AugmentConfig, rng: np.random.Generator, n_background: int = 0) -> dict:
    """Draw one clip's augmentation: which stages run and their values (empty: clip unchanged)."""
    if rng.random() >= config.p:
        return {}
    out: dict = {}
    if rng.random() < config.shift_p and config.shift_max_s > 0:
        out["shift_s"] = float(rng.uniform(-config.shift_max_s, config.shift_max_s))
    if rng.random() < config.background_p and n_background > 0:
        out["background_index"] = int(rng.integers(n_background))
        out["snr_db"] = float(rng.uniform(*config.background_snr_db))
    if rng.random() < config.band_p:
        # log-uniform: a cut-off's effect is about octaves, not hertz
        out["highpass_hz"] = float(np.exp(rng.uniform(*np.log(config.highpass_hz))))
        out["lowpass_hz"] = float(np.exp(rng.uniform(*np.log(config.lowpass_hz))))
    rates = [r for r in SAMPLE_RATES if config.sample_rate_hz[0] <= r <= config.sample_rate_hz[1]]
    if rng.random() < config.resample_p and rates:
        out["sample_rate_hz"] = int(rates[int(rng.integers(len(rates)))])
    if rng.random() < config.gain_p:
        out["gain_db"] = float(rng.uniform(*config.gain_db))
    bitrates = [b for b in MP3_BITRATES_KBPS if config.codec_bitrate_kbps[0] <= b <= config.codec_bitrate_kbps[1]]
    if rng.random() < config.codec_p and bitrates:
        out["codec_bitrate_kbps"] = int(bitrates[int(rng.integers(len(bitrates)))])
    return out


@contextmanager
def _scoped_global_seed(seed: int):
    """Seed `random` and `np.random` for one call and restore the caller's state afterwards.

    audiomentations draws from the global generators even when every range is fixed to one value
    (its `p` check and its range draws). The values applied here are all drawn beforehand by
    `draw_params`, so those draws do not change the output; seeding makes that certain, and
    restoring the state means augmenting never shifts any other code's global random stream.
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed & 0xFFFFFFFF)
    try:
        with warnings.catch_warnings():
            # Mp3Compression's repr warns about its own constructor arguments on every call
            warnings.filterwarnings("ignore", "Warning: attribute .* is not found", UserWarning)
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def apply_params(x: np.ndarray, params: dict, config: AugmentConfig,
                 background: np.ndarray | None = None) -> np.ndarray:
    """Apply drawn `params` to one mono 44.1 kHz clip `x`; same length and dtype float32 out.

    A stage whose value is absent from `params` is skipped. `background` holds the background
    segments `params["background_index"]` points into.
    """
    y = np.asarray(x, dtype=np.float32)
    n = y.shape[0]
    with _scoped_global_seed(stable_hash("augment", sorted(params.items()))):
        if "shift_s" in params:
            s = params["shift_s"]
            # no rollover: wrapping the tail round to the start would put a step (a click, i.e.
            # an impulse) into the clip; the vacated part is silence, faded in over 5 ms
            y = audiomentations.Shift(min_shift=s, max_shift=s, shift_unit="seconds", rollover=False,
                                      p=1.0)(y, sample_rate=SAMPLE_RATE)
        if "snr_db" in params and background is not None:
            try:
                y, _ = mix_at_snr(y, background[params["background_index"]], params["snr_db"],
                                  config.snr_definition, SAMPLE_RATE)
            except UndefinedLevelError:
                pass  # a silent clip or background segment: no SNR exists, the clip stays unmixed
        rolloff = config.band_rolloff_db_per_octave
        if "highpass_hz" in params:
            for cls, hz in ((audiomentations.HighPassFilter, params["highpass_hz"]),
                            (audiomentations.LowPassFilter, params["lowpass_hz"])):
                y = cls(min_cutoff_freq=hz, max_cutoff_freq=hz, min_rolloff=rolloff, max_rolloff=rolloff,
                        p=1.0)(np.asarray(y, np.float32), sample_rate=SAMPLE_RATE)
        if "sample_rate_hz" in params:
            low = soxr.resample(np.asarray(y, np.float32), SAMPLE_RATE, params["sample_rate_hz"])
            y = _fit(soxr.resample(low, params["sample_rate_hz"], SAMPLE_RATE), n)
        if "gain_db" in params:
            g = params["gain_db"]
            y = audiomentations.Gain(min_gain_db=g, max_gain_db=g, p=1.0)(np.asarray(y, np.float32),
                                                                          sample_rate=SAMPLE_RATE)
        if "codec_bitrate_kbps" in params:
            b = params["codec_bitrate_kbps"]
            # the encoder takes 16-bit input: a mixture or gain above full scale clips here, as
            # it would in the device that recorded it
            y = np.clip(y, -1.0, 1.0)
            y = audiomentations.Mp3Compression(min_bitrate=b, max_bitrate=b, backend="fast-mp3-augment",
                                               p=1.0)(np.asarray(y, np.float32), sample_rate=SAMPLE_RATE)
            y = _fit(y, n)
    return np.asarray(y, dtype=np.float32)


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    return y[:n] if y.shape[0] >= n else np.pad(y, (0, n - y.shape[0]))


def augment_clip(x: np.ndarray, config: AugmentConfig, seed: int, clip_key: str, epoch: int,
                 background: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """(augmented clip, drawn params) of clip `clip_key` in `epoch` of a run with `seed`."""
    rng = derive_rng(seed, "augment", clip_key, epoch)
    params = draw_params(config, rng, 0 if background is None else len(background))
    return (apply_params(x, params, config, background) if params else np.asarray(x, np.float32)), params


class Augmenter:
    """The augmentation of one training run: its config, seed, clip ids and background pool.

    `augmenter(indices, epoch)` returns the augmented waveforms of training clips `indices`
    and which of them changed; models call it once per epoch (torch) or once per copy
    (classical). Background segments come from the training split only (the caller loads them).
    """

    def __init__(self, config: AugmentConfig, seed: int, X: np.ndarray, clip_keys: Sequence[str],
                 background: np.ndarray | None = None):
        if len(clip_keys) != len(X):
            raise ValueError(f"Augmenter: {len(clip_keys)} clip ids for {len(X)} clips")
        self.config, self.seed, self.X = config, int(seed), X
        self.clip_keys = [str(k) for k in clip_keys]
        self.background = None if background is None or len(background) == 0 else background

    def __call__(self, indices: np.ndarray, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(waveforms of `indices` augmented for `epoch`, boolean mask of those that changed)."""
        out = np.empty((len(indices), self.X.shape[1]), np.float32)
        changed = np.zeros(len(indices), bool)
        for j, i in enumerate(indices):
            out[j], params = augment_clip(self.X[i], self.config, self.seed, self.clip_keys[i], epoch,
                                          self.background)
            changed[j] = bool(params)
        return out, changed

    def subset(self, rows: np.ndarray) -> "Augmenter":
        """The augmenter of training clips `rows` only (index i of the subset is clip rows[i]):
        a clip keeps its key, so it gets the same augmentation as in the whole set."""
        rows = np.asarray(rows)
        return Augmenter(self.config, self.seed, self.X[rows], [self.clip_keys[i] for i in rows],
                         self.background)

    def copies(self) -> tuple[np.ndarray, np.ndarray]:
        """(augmented clips, index of the training clip each comes from) of `config.copies`
        augmented copies of the training set (copy k is epoch k). Clips that a copy leaves
        unchanged (probability 1 - p) are not repeated: a duplicate adds no information and
        costs a feature extraction. `copy_chunks` gives the same clips a chunk at a time."""
        idx = np.arange(len(self.X))
        waves, source = [self.X[:0]], [idx[:0]]
        for w, src in self.copy_chunks():
            waves.append(w)
            source.append(src)
        return np.concatenate(waves), np.concatenate(source)

    def copy_chunks(self, chunk_clips: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The clips of `copies()`, in the same order, as (waveforms, source indices) chunks of at
        most `chunk_clips` (default `COPY_CHUNK_CLIPS`) training clips (empty chunks left out).

        A model trained once can take the features of each chunk as it comes, so that the
        augmented waveforms are never all in memory (the `paper` detection split's copy alone
        is ~1.5 GB of float32). Each clip's augmentation depends only on its key and the copy,
        so chunking changes no value.
        """
        chunk_clips = chunk_clips or COPY_CHUNK_CLIPS
        for k in range(self.config.copies):
            for start in range(0, len(self.X), chunk_clips):
                idx = np.arange(start, min(start + chunk_clips, len(self.X)))
                w, changed = self(idx, k)
                if changed.any():
                    yield w[changed], idx[changed]


def training_augmentation(model, config: AugmentConfig, seed: int, X: np.ndarray, y: np.ndarray,
                          frame, data_dir) -> tuple[np.ndarray, np.ndarray, dict]:
    """Hook of `train.train_run`: (X, y, extra `fit` kwargs) for an augmented run.

    A model whose `fit` takes an `augmenter` gets one: the torch models re-draw every epoch,
    the classical models (`models.classical`) add the augmented clips of `config.copies`
    copies, computing their features chunk by chunk (`Augmenter.copy_chunks`). Any other
    model (e.g. a plugin's) is trained once on the clean set plus those clips, concatenated
    here. Backgrounds are the `background` config's TRAINING split (none if it is absent).
    """
    import inspect

    from gunshot_bench.dataset.read import load_arrays

    try:
        background, rows = load_arrays(data_dir, "background", "train")
        if "is_gunshot" in rows:  # the config holds only non-gunshots; make sure of it
            background = background[~rows["is_gunshot"].to_numpy(bool)]
    except FileNotFoundError:
        background = None
    keys = frame["clip_id"].astype(str).tolist() if "clip_id" in frame else [str(i) for i in range(len(X))]
    augmenter = Augmenter(config, seed, X, keys, background)
    if "augmenter" in inspect.signature(model.fit).parameters:
        return X, y, {"augmenter": augmenter}
    extra, source = augmenter.copies()
    return np.concatenate([X, extra]), np.concatenate([y, np.asarray(y)[source]]), {}
