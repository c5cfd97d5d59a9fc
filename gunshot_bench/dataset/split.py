"""The grouped, stratified train/validation/test split.

Every segment of one recording group lands in one split. A group's split is a function of
the seed and its id alone (a stable hash mapped onto the 70/15/15 intervals), so adding a
recording moves no other recording and rebuilding with the same seed gives the same split.
Hashing balances each stratum (model, else category) only in expectation, so one repair
follows: in a stratum with at least three groups, a split left empty receives the group
whose hash lies nearest that split's interval, taken from the split that has the most
groups. Only such strata can change when a recording is added; every move is reported.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from gunshot_bench.errors import UserError
from gunshot_bench.rng import stable_uniform

SPLITS = ("train", "validation", "test")
DEFAULT_RATIOS = (0.70, 0.15, 0.15)


@dataclass(frozen=True)
class SplitResult:
    """`assignment` maps group id -> split; `moves` and `unmet` say what the repair did or could not do."""

    assignment: dict[str, str]
    moves: list[dict] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)


def _interval(split: str, ratios: tuple[float, float, float]) -> tuple[float, float]:
    i = SPLITS.index(split)
    lo = sum(ratios[:i])
    return lo, lo + ratios[i]


def hashed_split(group_id: str, seed: int, ratios: tuple[float, float, float] = DEFAULT_RATIOS) -> str:
    """The split a group falls into by hashing alone."""
    u = stable_uniform("split", seed, group_id)
    return "train" if u < ratios[0] else "validation" if u < ratios[0] + ratios[1] else "test"


def assign_splits(strata: dict[str, str], seed: int,
                  ratios: tuple[float, float, float] = DEFAULT_RATIOS,
                  fixed: dict[str, str] | None = None) -> SplitResult:
    """Assign each group (id -> stratum label) to a split.

    `fixed` (group id -> split) holds the groups whose collection assigns their split (official
    folds): they keep it, and the repair neither moves them nor counts on them.

    Example:
        >>> r = assign_splits({f"rec{i}": "Glock 17" for i in range(3)}, seed=0)
        >>> sorted(r.assignment.values())
        ['test', 'train', 'validation']
    """
    if abs(sum(ratios) - 1.0) > 1e-9 or min(ratios) <= 0:
        raise UserError(f"split ratios must be positive and sum to 1, got {ratios}")
    fixed = fixed or {}
    assignment = {g: fixed.get(g) or hashed_split(g, seed, ratios) for g in sorted(strata)}
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for g in sorted(set(strata) - set(fixed)):
        by_stratum[strata[g]].append(g)
    moves, unmet = [], []
    for stratum, groups in sorted(by_stratum.items()):
        stratum_moves, problem = repair_stratum(stratum, groups, assignment, seed, ratios)
        moves += stratum_moves
        unmet += [problem] if problem else []
    return SplitResult(assignment, moves, unmet)


def repair_stratum(stratum: str, groups: list[str], assignment: dict[str, str], seed: int,
                   ratios: tuple[float, float, float] = DEFAULT_RATIOS) -> tuple[list[dict], str | None]:
    """The repair of one stratum (see the module docstring): fills each split left empty.

    `groups` are the stratum's movable groups in sorted order; `assignment` holds at least
    their hashed splits and is updated in place. Strata are independent, so a caller may hold
    one stratum at a time (the build's on-disk index does). Returns the moves and, for a
    stratum of fewer than three groups, the message saying why it is not in every split.
    """
    if len(groups) < 3:
        return [], f"{stratum}: {len(groups)} recording group(s), fewer than 3, so not in every split"
    moves = []
    for missing in SPLITS:
        counts = Counter(assignment[g] for g in groups)
        if counts[missing]:
            continue
        donor = max((s for s in SPLITS if counts[s] > 1), key=lambda s: (counts[s], -SPLITS.index(s)))
        lo, hi = _interval(missing, ratios)
        centre = (lo + hi) / 2
        chosen = min((g for g in groups if assignment[g] == donor),
                     key=lambda g: (abs(stable_uniform("split", seed, g) - centre), g))
        assignment[chosen] = missing
        moves.append({"group": chosen, "stratum": stratum, "from": donor, "to": missing})
    return moves, None


# ----------------------------------------------------------------------- segment protocol

#: The split protocols. `grouped` (the default) is the leak-free split above, stored in the
#: shards; `segment` is study A's: 2 s segments split at random, stratified, 70/15/15, so
#: segments of one recording sit in train and test. Both come from the same rows.
PROTOCOLS = ("grouped", "segment")


def check_protocol(protocol: str) -> str:
    """`protocol` if it is one of `PROTOCOLS`, else a ValueError naming the choices."""
    if protocol not in PROTOCOLS:
        raise UserError(f"unknown split protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    return protocol


def segment_stratum(row) -> str:
    """The stratum of a row for the segment protocol: model, else category, else the raw label."""
    model, category = int(row["model"]), int(row["category"])
    if model >= 0:
        return f"model:{model}"
    if category >= 0:
        return f"category:{category}"
    return f"{'gunshot' if bool(row['is_gunshot']) else 'background'}:{row['label_raw']}"


def segment_assignment(frame, seed: int, ratios: tuple[float, float, float] = DEFAULT_RATIOS):
    """Study A's split of `frame`'s rows (all splits of one config together): a split name per row.

    The unit is the 2 s segment (`source`, `rel_path`, `segment_index`): a variant of a segment
    (e.g. the detection config's noisy copy) goes where the segment goes. In each stratum the
    segments are ordered by a stable hash of (seed, segment) and cut at 70/15/15; a stratum
    of at least three segments gets at least one in each split. Hand-written rather than
    sklearn's `train_test_split(stratify=...)`: that one needs two members per class and
    permutes the whole set, so adding a clip would move others.

    Returns:
        numpy array of "train" / "validation" / "test", aligned with `frame`'s rows.
    """
    import numpy as np

    if abs(sum(ratios) - 1.0) > 1e-9 or min(ratios) <= 0:
        raise UserError(f"split ratios must be positive and sum to 1, got {ratios}")
    units = [f"{s}/{p}#{int(i)}" for s, p, i in zip(frame["source"], frame["rel_path"], frame["segment_index"])]
    strata: dict[str, str] = {}
    for unit, (_, row) in zip(units, frame.iterrows()):
        strata.setdefault(unit, segment_stratum(row))
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for unit in sorted(strata):
        by_stratum[strata[unit]].append(unit)
    split_of: dict[str, str] = {}
    for members in by_stratum.values():
        members.sort(key=lambda u: (stable_uniform("segment-split", seed, u), u))
        n = len(members)
        if n >= 3:
            n_val = max(1, round(n * ratios[1]))
            n_test = max(1, round(n * ratios[2]))
        else:  # too few to fill three splits: train first, then test
            n_val, n_test = 0, n - 1
        n_train = n - n_val - n_test
        for k, unit in enumerate(members):
            split_of[unit] = "train" if k < n_train else "validation" if k < n_train + n_val else "test"
    return np.array([split_of[u] for u in units], dtype=object)
