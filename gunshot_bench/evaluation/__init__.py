"""The evaluation core: what the leaderboard, the robustness evaluation and study B share.

Layers, each importing only those below it (`tests/test_import_layers.py` keeps them):

- `entries`: the leaderboard entries and seeds, the dataset's provenance, `RunLayout` (every
  output path);
- `jobs`: the `Job` protocol (a label, the resources it needs, `run()`), `Failure`;
- `engine`: runs jobs: `LocalEngine` (a process pool) or `RayEngine` (Ray tasks);
- `training`: `TrainJob` (one entry, task, protocol and seed) and loading a trained run;
- `scoring`: the `Scorer`, `SeedRun`, model blocks, `is_valid_result`, `ScoreJob`;
- `conditions`: robustness conditions and levels, per-level subsampling, curve areas.

The protocols (`gunshot_bench.protocols`: the leaderboard, robustness, study B) are built
on this core; nothing here imports them, nor the renderer (`gunshot_bench.leaderboard`).
"""
