"""Evaluation protocols built on the core (`gunshot_bench.evaluation`).

- `leaderboard`: train and score every entry of `baselines/` on each of its tasks, under both
  split protocols, with the reference rows (`run_leaderboard`);
- `robustness`: score every run level by level on the variant test rows (`run_robustness`);
- `study_b`: study B's three detectors, scored on three test sets (`run_study_b`).

Each turns its work into jobs (`evaluation.jobs`) that an engine (`evaluation.engine`) runs
locally or on Ray, then renders the page (`gunshot_bench.leaderboard`). The core never
imports a protocol.
"""
