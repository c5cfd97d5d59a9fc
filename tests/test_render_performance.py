"""benchmarks/render_performance.py: the page comes from results.json, and re-rendering keeps the
page's hand-written sections (they hold figures that no benchmark JSON carries)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "render_performance.py"
DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def _module():
    spec = importlib.util.spec_from_file_location("render_performance", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RESULTS = {
    "machine_at_start": {"cpu": "Test CPU", "cores": 2, "load_average_1_5_15": [1.0, 1.0, 1.0]},
    "suite": "quick",
    "parts": {
        "features": {"command": "python benchmarks/bench_features.py", "log_stft_clips_per_s": 611.0,
                     "librosa_reference_clips_per_s": 250.0, "speedup": 2.44, "clips": 16, "repeats": 3,
                     "max_abs_diff": 1e-6, "fast_float16_max_abs_diff": 1e-3,
                     "machine": {"load_average_1_5_15": [2.5, 2.0, 1.0]}},
        "embedding": {"command": "python benchmarks/bench_embedding.py --clips 8", "clips": 8, "repeats": 2,
                      "encoder": {"name": "aisfx", "sample_rate": 44100, "embedding_size": 512},
                      "embed_clips_per_s": 6.25, "embed_ms_per_clip": 160.0, "frontend_ms_per_clip": 16.5,
                      "embed_cpu_ms_per_clip": 158.0,
                      "probe": {"task": "category", "train_clips": 300, "validation_clips": 60,
                                "first_embed_s": 57.1, "clips_embedded_first": 360, "fit_warm_cache_s": 1.37,
                                "fit_warm_cache_cpu_s": 1.21, "load_average_1_5_15_at_fits": [3.5, 3.0, 2.0],
                                "chosen": "logreg"},
                      "machine": {"load_average_1_5_15": [0.7, 1.0, 1.0]}},
    },
}


def test_rerender_keeps_hand_written_sections_and_replaces_rendered_ones():
    rp = _module()
    hand = (f"## Measured by hand\n{rp.HANDWRITTEN}\n\n| what | figure |\n|---|---|\n"
            "| a main-job extra | 66.4 min |\n\nA paragraph with a `command --flag`.")
    unmarked = "## An old section without the marker\n\nstale figure 999.9 clips/s"
    previous = rp.render({"parts": {}}) + "\n" + hand + "\n\n" + unmarked + "\n"
    page = rp.render(RESULTS, previous)
    assert hand in page  # verbatim, table and all
    assert "stale figure 999.9" not in page  # sections without the marker are the renderer's to drop
    assert page.index("## Log-STFT features") < page.index("## Measured by hand")
    assert "| `features.log_stft` (batched scipy rfft, reused buffers) | 611.0 |" in page
    # rendering again over its own output changes nothing (no duplicated sections)
    assert rp.render(RESULTS, page) == page
    assert page.count("## Measured by hand") == 1


def test_predict_memory_steps_are_rendered():
    results = {"parts": {"predict_long": {
        "command": "python benchmarks/bench_predict_long.py", "engine": "onnx", "batch": 8,
        "targets": {"peak_rss_mb": 500, "rss_ratio_1h_10min": 1.2, "s_per_hour": 30},
        "recordings": {"600": {"duration_s": 600.0, "batch": 8, "peak_rss_mb": 480.5, "wall_s": 9.0,
                               "s_per_hour": 54.0, "scene": {}},
                       "3600": {"duration_s": 3600.0, "batch": 8, "peak_rss_mb": 490.0, "wall_s": 50.0,
                                "s_per_hour": 50.0, "scene": {}}},
        "rss_ratio_longest_shortest": 1.02,
        "attribution": [["python", 13.4, 13.4], ["torch", 200.1, 186.7]]}}}
    page = _module().render(results)
    assert "## `predict` on long recordings (streamed in blocks; onnxruntime)" in page
    assert "for any length: 490.0 MB, met" in page and "1.02, met" in page and "50.0 s, NOT met" in page
    assert "| torch | 200.1 | 186.7 |" in page


def test_embedding_figures_come_from_the_benchmark_json():
    page = _module().render(RESULTS)
    section = page.split("## Pretrained embeddings: throughput and probe training", 1)[1].split("\n## ", 1)[0]
    assert "`python benchmarks/bench_embedding.py --clips 8` (load 0.7)" in section
    assert "6.25 clips/s (160.0 ms per clip" in section and "front end 16.5 ms" in section
    assert "embeds 360 clips into the cache in 57.1 s" in section
    assert "takes 1.37 s of wall time, 1.21 s of CPU time" in section and "load 3.5 when" in section
    assert "CPU time 158.0 ms per clip" in section and "chosen: logreg" in section


def test_the_committed_page_keeps_its_hand_written_sections():
    """The committed page's marked sections survive a re-render from the committed results."""
    import json

    rp = _module()
    results = json.loads((SCRIPT.parent / "results.json").read_text())
    page = DOC.read_text()
    kept = rp.handwritten_sections(page)
    assert kept, "docs/performance.md marks its hand-written sections"
    rendered = rp.render(results, page)
    assert all(section in rendered for section in kept)
