"""The physically grounded simulator of gunshots and background scenes (the embedded corpus).

`synthesize_corpus(preset, out_dir, seed)` writes a raw corpus in the `folder` layout with a
`metadata.csv` of every generation parameter; `PRESETS` holds "tiny", "small", "paper" and
"diverse". What is simulated, the physical sources of each parameter and what is left out are
in docs/simulator.md. Modules: `firearm` (blast, N-wave, firing), `mechanism` (each model's
mechanical signature, muzzle devices, physical guns), `propagation` (path), `chain` (recording
chain), `scenes` (backgrounds, confusers), `negatives` (urban classes, handling, more
confusers, ambiences), `presets` (sizes, sessions), `recording` (one file), `corpus` (writing),
`oracle` (the ceiling from the generation parameters).
"""

from gunshot_bench.sim.corpus import CorpusSummary, synthesize_corpus
from gunshot_bench.sim.presets import PRESETS

__all__ = ["CorpusSummary", "PRESETS", "synthesize_corpus"]
