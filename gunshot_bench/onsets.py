"""Shot onsets in long recordings: frame levels, a noise floor, onsets, and events (bursts).

The detector works on the level of short frames (10 ms, hop 5 ms) of a 44.1 kHz signal:

- levels are measured above `HIGHPASS_HZ` (4th-order Butterworth, run with its state carried
  from block to block). ASSUMPTION: wind, traffic and handling noise put most of their slowly
  fluctuating energy below it, while a shot's blast is broadband, so its level above 300 Hz
  still rises sharply; without it, 10 ms levels of pink or brown noise swing by 20 dB and
  pass for shots (tested);
- the NOISE FLOOR at a frame is the `FLOOR_PERCENTILE`th percentile of the (25 ms smoothed)
  levels within `FLOOR_WINDOW_S` around it, on a 100 ms grid. A low percentile of a long
  window centred on the frame is not raised by a burst of automatic fire: the quiet before and
  after the burst and the troughs between shots reach it (in the spirit of minimum statistics,
  Martin 2001, IEEE Trans. Speech Audio Process. 9(5), with a percentile instead of the
  bias-corrected minimum);
- an ONSET is a frame whose level stands at least `RISE_DB` above the mean of the preceding
  `RISE_S` (a shot's blast rises in well under a millisecond; traffic, wind and crowd noise
  swell slowly)
  and whose level in the next `RISE_S` stands `threshold_db` above the floor. Onsets closer
  than `REFRACTORY_S` are one shot (1500 rpm; the fastest cyclic rate in the catalogue is
  1200 rpm);
- onsets closer than `MERGE_GAP_S` are one EVENT (a burst, or a double tap) with its shot
  count and shot times; an event ends when the level falls back below the floor plus half the
  threshold (hysteresis), at most `MAX_TAIL_S` after its last shot.

Why not librosa's onset detector (used before): `onset_detect` normalises its onset envelope
by the maximum of the whole input and picks peaks relative to it, so its output depends on
where a block starts and ends; with the floor taken as the 20th percentile of the block, a
4-10 s recording that is mostly automatic fire had its floor inside the burst and gave no
event at all. Here the frame levels are computed block by block (`LevelMeter`) and are
identical for any block size, and everything after them is a function of the whole level
sequence (a few MB for an hour), so streamed and whole-file results are identical.

The threshold is chosen on a dataset's validation clips (`choose_threshold_db`), within
`THRESHOLD_RANGE_DB`; runs without one use `DEFAULT_THRESHOLD_DB`.

Limits (measured on generated bursts): every shot is counted at 600-1000 rpm when a shot's
level falls by some 10 dB or more before the next (decay time constants up to 50 ms,
broadband or band-limited); shots whose tails overlap more (a narrow band decaying with
80-130 ms at 1000 rpm) are undercounted and a burst may split. The detector does not know
what made a sharp sound: a door slam is an event too, for the classifier to judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import percentile_filter, uniform_filter1d
from scipy.signal import butter, sosfilt

SAMPLE_RATE = 44_100
HOP = 220  # samples: 4.99 ms at 44.1 kHz; a frame is two hops (9.98 ms)
HOP_S = HOP / SAMPLE_RATE
#: Level given to digital silence (dBFS): keeps the floor finite.
MIN_LEVEL_DB = -100.0
RISE_DB = 3.0
RISE_S = 0.02
REFRACTORY_S = 0.04
HIGHPASS_HZ = 300.0
FLOOR_WINDOW_S = 20.0
FLOOR_SMOOTH_S = 0.025
FLOOR_GRID_S = 0.1
FLOOR_PERCENTILE = 10.0
MERGE_GAP_S = 0.25
MAX_TAIL_S = 2.0
#: The onset threshold of runs that stored none (older runs), in dB above the noise floor.
DEFAULT_THRESHOLD_DB = 10.0
#: Where a dataset's validation data may place the threshold. The top keeps shots 13 dB
#: above the floor detectable (3 dB of margin for the frame grid and the floor estimate); below
#: the bottom, the swell of ordinary non-stationary backgrounds passes for shots.
THRESHOLD_RANGE_DB = (6.0, 10.0)


@dataclass(frozen=True)
class Event:
    """One shot or burst: its span, the onset time of every shot, and its peak above the floor."""

    start_s: float
    end_s: float
    shot_times_s: tuple[float, ...]
    peak_db: float

    @property
    def n_shots(self) -> int:
        return len(self.shot_times_s)


class LevelMeter:
    """Frame levels (above `HIGHPASS_HZ`) of a 44.1 kHz signal fed in blocks of any size.

    The high-pass filter carries its state from block to block; the mean square of each
    `HOP`-sample chunk depends on that chunk's samples only, and a frame is the mean of two
    chunks; leftover samples wait for the next block. So the levels do not depend on the block
    size (tested).
    """

    _SOS = butter(4, HIGHPASS_HZ, btype="highpass", fs=SAMPLE_RATE, output="sos")

    def __init__(self):
        self._rest = np.zeros(0, np.float64)
        self._state = np.zeros((self._SOS.shape[0], 2))
        self._power: list[np.ndarray] = []

    def push(self, x: np.ndarray) -> None:
        if len(x) == 0:
            return
        filtered, self._state = sosfilt(self._SOS, np.asarray(x, np.float64), zi=self._state)
        x = np.concatenate([self._rest, filtered])
        n = len(x) // HOP * HOP
        if n:
            chunks = x[:n].reshape(-1, HOP)
            self._power.append(np.mean(chunks * chunks, axis=1))
        self._rest = x[n:]

    def levels_db(self) -> np.ndarray:
        """Level of frame k (samples `k*HOP` to `k*HOP + 2*HOP`) in dBFS."""
        power = np.concatenate(self._power) if self._power else np.zeros(0)
        if len(power) < 2:
            return np.zeros(0)
        frames = 0.5 * (power[:-1] + power[1:])
        return 10 * np.log10(np.maximum(frames, 10 ** (MIN_LEVEL_DB / 10)))


def frame_levels_db(x: np.ndarray) -> np.ndarray:
    """Frame levels of a whole 44.1 kHz signal (what `LevelMeter` gives block by block)."""
    meter = LevelMeter()
    meter.push(x)
    return meter.levels_db()


def noise_floor_db(levels_db: np.ndarray) -> np.ndarray:
    """Per frame: the `FLOOR_PERCENTILE`th percentile of the 25 ms smoothed levels within
    `FLOOR_WINDOW_S` around it (computed on a `FLOOR_GRID_S` grid: an hour is 36,000 points)."""
    if len(levels_db) == 0:
        return levels_db
    smooth = 10 * np.log10(uniform_filter1d(10 ** (levels_db / 10), _frames(FLOOR_SMOOTH_S), mode="nearest"))
    step = _frames(FLOOR_GRID_S)
    grid = percentile_filter(smooth[::step], FLOOR_PERCENTILE,
                             size=2 * int(round(FLOOR_WINDOW_S / 2 / FLOOR_GRID_S)) + 1, mode="nearest")
    return np.repeat(grid, step)[:len(levels_db)]


def _frames(seconds: float) -> int:
    return max(int(round(seconds / HOP_S)), 1)


def onset_strength_db(levels_db: np.ndarray, floor_db: np.ndarray) -> np.ndarray:
    """Per frame: its peak level over the next `RISE_S` above the floor where the frame stands
    `RISE_DB` above the mean power of the `RISE_S` before it; -inf elsewhere (an onset is
    where this passes the threshold).

    "Before" skips the frame just before, which shares half of this frame's samples; a mean
    (not a minimum) of those frames lets the next shot of a burst count from the tail of the
    previous one, whose level falls only some 5-10 dB between shots at 1000 rpm.
    """
    k, n = _frames(RISE_S), len(levels_db)
    if n <= k + 1:
        return np.full(n, -np.inf)
    padded = np.concatenate([np.full(k + 1, levels_db[0]), levels_db, np.full(k, MIN_LEVEL_DB)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, k)
    before = 10 * np.log10(np.mean(10 ** (windows[:n] / 10), axis=1))  # frames n-k-1 .. n-2
    after = windows[k + 1:k + 1 + n].max(axis=1)                        # frames n .. n+k-1
    return np.where(levels_db - before >= RISE_DB, after - floor_db, -np.inf)


def find_onsets(levels_db: np.ndarray, floor_db: np.ndarray, threshold_db: float) -> np.ndarray:
    """Frame indices of shot onsets (see the module docstring)."""
    candidates = np.flatnonzero(onset_strength_db(levels_db, floor_db) >= threshold_db)
    onsets: list[int] = []
    gap = _frames(REFRACTORY_S)
    for f in candidates:  # a few per shot: a loop over candidates, not over frames
        if not onsets or f - onsets[-1] >= gap:
            onsets.append(int(f))
    return np.asarray(onsets, dtype=np.int64)


def group_events(levels_db: np.ndarray, floor_db: np.ndarray, onsets: np.ndarray,
                 threshold_db: float, merge_gap_s: float = MERGE_GAP_S) -> list[Event]:
    """Onsets closer than `merge_gap_s` as one event; each event's end from the level's release."""
    groups: list[list[int]] = []
    for f in onsets:
        if groups and (f - groups[-1][-1]) * HOP_S < merge_gap_s:
            groups[-1].append(int(f))
        else:
            groups.append([int(f)])
    events = []
    quiet = levels_db < floor_db + threshold_db / 2
    for i, shots in enumerate(groups):
        last = shots[-1]
        limit = min(len(levels_db), last + _frames(MAX_TAIL_S),
                    groups[i + 1][0] if i + 1 < len(groups) else len(levels_db))
        after = np.flatnonzero(quiet[last + 1:limit])
        end = last + 1 + (after[0] if len(after) else limit - last - 1)
        end = max(end, last + 1)
        span = slice(shots[0], end + 1)
        events.append(Event(start_s=_time(shots[0]), end_s=_time(int(end)),  # end of the last loud frame
                            shot_times_s=tuple(_time(f) for f in shots),
                            peak_db=round(float((levels_db[span] - floor_db[span]).max()), 2)))
    return events


def _time(frame: int) -> float:
    # the middle of the frame: the rise is somewhere in its 10 ms
    return round((frame + 1) * HOP_S, 4)


def detect_events(levels_db: np.ndarray, threshold_db: float = DEFAULT_THRESHOLD_DB,
                  merge_gap_s: float = MERGE_GAP_S) -> list[Event]:
    """Events from the frame levels of a whole recording."""
    floor = noise_floor_db(levels_db)
    return group_events(levels_db, floor, find_onsets(levels_db, floor, threshold_db),
                        threshold_db, merge_gap_s)


def detect_shots(x: np.ndarray, threshold_db: float = DEFAULT_THRESHOLD_DB,
                 merge_gap_s: float = MERGE_GAP_S) -> list[Event]:
    """Events in a whole mono 44.1 kHz recording held in memory."""
    return detect_events(frame_levels_db(x), threshold_db, merge_gap_s)


# ---- the threshold, chosen on validation clips ---------------------------------------------
def clip_strength_db(x: np.ndarray) -> float:
    """The strongest onset of a clip in dB above its floor (-inf without a sharp rise): the
    clip holds an onset at every threshold up to this value."""
    levels = frame_levels_db(x)
    if len(levels) == 0:
        return -np.inf
    return float(onset_strength_db(levels, noise_floor_db(levels)).max())


def choose_threshold_db(strengths_db, is_gunshot, step_db: float = 0.5) -> float:
    """The threshold in `THRESHOLD_RANGE_DB` that best separates gunshot clips from the rest.

    Each clip counts as detected when its strength reaches the threshold; the threshold with
    the highest balanced accuracy wins (ties: the highest, fewer false alarms). Without
    background clips the best is the highest threshold that still finds every gunshot clip
    found at the bottom of the range. Without gunshot clips: `DEFAULT_THRESHOLD_DB`.

    >>> choose_threshold_db([20.0, 8.2, 3.0], [True, True, False])
    8.0
    """
    s = np.asarray(strengths_db, dtype=float)
    g = np.asarray(is_gunshot, dtype=bool)
    if not g.any():
        return DEFAULT_THRESHOLD_DB
    grid = np.arange(THRESHOLD_RANGE_DB[0], THRESHOLD_RANGE_DB[1] + step_db / 2, step_db)
    hit = s[:, None] >= grid[None, :]
    recall = hit[g].mean(0)
    score = recall if g.all() else 0.5 * (recall + 1 - hit[~g].mean(0))
    best = np.flatnonzero(score >= score.max() - 1e-12)[-1]
    return float(grid[best])


def threshold_from_dataset(data_dir) -> float:
    """`choose_threshold_db` on the `clean` validation split of a built dataset (every row:
    the detector runs before any classifier); `DEFAULT_THRESHOLD_DB` when there is none."""
    from gunshot_bench.dataset.read import load_arrays

    try:
        X, frame = load_arrays(Path(data_dir), "clean", "validation")
    except FileNotFoundError:
        return DEFAULT_THRESHOLD_DB
    if len(frame) == 0 or "is_gunshot" not in frame:
        return DEFAULT_THRESHOLD_DB
    return choose_threshold_db([clip_strength_db(x) for x in X], frame["is_gunshot"].to_numpy(bool))
