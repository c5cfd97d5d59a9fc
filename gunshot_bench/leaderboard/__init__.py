"""The leaderboard: train and score every baseline entry, then render tables, a page and plots.

- `run_leaderboard(data_dir, models, seeds, out_dir)` (in `leaderboard.run`) trains and scores
  each entry of `gunshot_bench/baselines/` and writes one result JSON per (entry, task, dataset config).
- `render_leaderboard(results_dir, out_dir)` (in `leaderboard.render`) turns result files into
  `LEADERBOARD.md`, a static `index.html` and PNG plots.
"""

from gunshot_bench.leaderboard.render import Rendered, render_leaderboard

__all__ = ["Rendered", "render_leaderboard", "run_leaderboard"]


def __getattr__(name):
    # run_leaderboard pulls in torch and the models; import it only when asked for.
    if name == "run_leaderboard":
        from gunshot_bench.leaderboard.run import run_leaderboard

        return run_leaderboard
    raise AttributeError(name)
