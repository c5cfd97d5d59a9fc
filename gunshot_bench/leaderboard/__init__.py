"""The leaderboard page: render result files into tables, a static page and plots.

- `render_leaderboard(results_dir, out_dir)` (in `leaderboard.render`) turns result files into
  `LEADERBOARD.md`, a static `index.html` and PNG plots.

This package only renders: training and scoring are the protocols' (`gunshot_bench.protocols`,
e.g. `protocols.leaderboard.run_leaderboard`), built on the evaluation core
(`gunshot_bench.evaluation`). Nothing here imports them.
"""

from gunshot_bench.leaderboard.render import Rendered, render_leaderboard

__all__ = ["Rendered", "render_leaderboard"]
