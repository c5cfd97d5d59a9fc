"""Render `docs/performance.md` from `benchmarks/results.json` (every figure comes from there).

A section of the current page whose text holds `HANDWRITTEN` (figures measured by hand, e.g.
the aiSFX entries' cost inside the main job) is not in `results.json`: `render(results,
previous)` keeps every such section of `previous`, the page being replaced, verbatim at the end.
"""

from __future__ import annotations

#: Marks a hand-written section of docs/performance.md (put it on the line under its heading).
HANDWRITTEN = "<!-- hand-written section: benchmarks/render_performance.py keeps it as it is -->"

HEADER = """# Performance

Measured by `python benchmarks/run_all.py` (the full suite; `--quick` for a smaller one), which
writes `benchmarks/results.json` and this page. Every figure is a median over repeats; every
ratio compares two paths measured alternately in the same process, so machine load hits both
alike. The machine is shared: the load average at the start of each part is given, and
absolute times on a quiet machine are lower. Targets are those of issue 7.

## Using the fast paths

- Features: `gunshot_bench.features.log_stft` frames chunks of clips as a strided view and
  runs one `scipy.fft.rfft` per chunk into buffers allocated once (same output as per-clip
  `librosa.stft` + `log1p` to 1e-5; `tests/test_fastpaths.py`). One clip per FFT call on
  one thread measured fastest (buffers stay in cache; a 1024-point FFT does not pay for
  thread hand-off): parallelise over processes, as the dataset build does.
- Training: features are computed once per fit and held in float16 (half the memory);
  AudioResNet runs channels-last when its width is a multiple of 16; the forward pass runs
  under bfloat16 autocast on CPUs with native bfloat16 (`precision="auto"`; weights,
  optimiser and loss stay float32); the default network's stride-4 stem removes the
  memory-bound passes over large stem maps that dominated the profile (docs/models.md).
- Inference: batch norm is folded into the convolutions and torch runs in inference mode.
  `gunshot-bench export RUN_DIR --format onnx` (needs `pip install 'gunshot-bench[onnx]'`)
  writes `RUN_DIR/onnx/`; `gunshot-bench predict --model RUN_DIR` then uses onnxruntime
  automatically (`--engine torch|onnx|auto`), with the same outputs to float rounding
  (`tests/test_export.py`). The export is refused when its weights differ from the run's.
- Threads: torch picks one thread per core; on a machine shared with other jobs,
  `torch.set_num_threads(1)` per process and one process per core usually wins.
"""


def _get(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def _load(part: dict) -> str:
    la = _get(part, "machine", "load_average_1_5_15")
    return f"{la[0]:.1f}" if la else "?"


def _ok(value, target, lower_is_better=True) -> str:
    if value is None:
        return "not measured"
    good = value <= target if lower_is_better else value >= target
    return "met" if good else "NOT met"


def _predict_long(p: dict) -> list[str]:
    """The section of `bench_predict_long.py`: memory and time of `predict` on long recordings."""
    if not p:
        return []
    engine = {"torch": "eager torch", "onnx": "onnxruntime"}.get(p.get("engine"), "onnxruntime")
    lines = [f"## `predict` on long recordings (streamed in blocks; {engine})", "",
             f"`{p.get('command')}` (load {_load(p)})", ""]
    if "error" in p:
        return lines + [f"error: {p['error']}", ""]
    t = p.get("targets", {})
    lines += [f"Generated scene audio ({p.get('sample_rate')} Hz, {p.get('channels')} channels, 16-bit WAV: "
              f"pink noise, shots and bursts of 3-30 shots at 600-1000 rpm every {p.get('mean_gap_s')} s on "
              "average, and non-shot thuds; see the script). Each run is a fresh process with the default "
              f"network ({engine}) reporting its own peak RSS; \"model only\" loads the model and "
              f"nothing else: {_get(p, 'model_only', 'peak_rss_mb')} MB.", "",
              "| recording | windows per batch | file MB | events placed (shots) | events found (shots) | wall s | CPU s | wall s per hour | peak RSS MB |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in p.get("recordings", {}).values():
        sc = r.get("scene", {})
        lines.append(f"| {r.get('duration_s', 0) / 60:.0f} min | {r.get('batch', p.get('batch'))} | {r.get('file_mb')} | "
                     f"{sc.get('events')} ({sc.get('shots')}) | "
                     f"{r.get('events')} ({r.get('shots')}) | {r.get('wall_s')} | {r.get('cpu_s')} | "
                     f"{r.get('s_per_hour')} | {r.get('peak_rss_mb')} |")
    rows = [r for r in p.get("recordings", {}).values() if r.get("batch", p.get("batch")) == p.get("batch")]
    hour = next((r for r in rows if r.get("duration_s") == 3600), None)
    peak = max((r.get("peak_rss_mb", 0) for r in rows), default=None)
    ratio = p.get("rss_ratio_longest_shortest")
    lines += ["", f"Targets: peak RSS <= {t.get('peak_rss_mb')} MB for any length: {peak} MB, "
              f"{_ok(peak, t.get('peak_rss_mb', 0))}; longest / shortest peak RSS <= {t.get('rss_ratio_1h_10min')}: "
              f"{ratio}, {_ok(ratio, t.get('rss_ratio_1h_10min', 0))}; one hour in < {t.get('s_per_hour')} s (wall): "
              f"{_get(hour or {}, 's_per_hour')} s, {_ok(_get(hour or {}, 's_per_hour'), t.get('s_per_hour', 0))} "
              f"(at predict's default of {p.get('batch')} windows per batch; wall and CPU time are the "
              "`predict_files` call, loading the model included)."
              + (f" The row with another batch size: `{p['other_batch_command']}`." if p.get("other_batch_command") else ""),
              ""]
    steps = p.get("attribution")
    if steps:
        lines += ["Where the model-only memory goes (resident MB after each step of what `predict` imports "
                  "and loads, in that order, in a fresh process"
                  + (f"; `{p['attribution_command']}`" if p.get("attribution_command") else "") + "):", "",
                  "| step | RSS MB | added MB |", "|---|---|---|"]
        lines += [f"| {label} | {mb} | {added} |" for label, mb, added in steps] + [""]
    return lines


def _embedding(p: dict) -> list[str]:
    """The section of `bench_embedding.py`: encoder throughput and the probe's training time."""
    if not p:
        return []
    lines = ["## Pretrained embeddings: throughput and probe training", "",
             f"`{p.get('command')}` (load {_load(p)})", ""]
    if "error" in p:
        return lines + [f"error: {p['error']}", ""]
    enc = p.get("encoder", {})
    lines += [f"Encoder {enc.get('name')} ({enc.get('sample_rate')} Hz, {enc.get('embedding_size')}-d), one thread, "
              f"{p.get('clips')} generated 2 s clips, median of {p.get('repeats')} passes: "
              f"{p.get('embed_clips_per_s')} clips/s ({p.get('embed_ms_per_clip')} ms per clip, of which the "
              f"spectrogram front end {p.get('frontend_ms_per_clip')} ms; CPU time "
              f"{p.get('embed_cpu_ms_per_clip', '-')} ms per clip).", ""]
    pr = p.get("probe")
    if pr:
        lines += [f"Probe on the `{pr.get('task')}` task ({pr.get('train_clips')} training and "
                  f"{pr.get('validation_clips')} validation clips): the first pass embeds "
                  f"{pr.get('clips_embedded_first')} clips into the cache in {pr.get('first_embed_s')} s; then "
                  f"`EmbeddingProbe.fit` (cached embeddings: standardising, the candidate probes and the "
                  f"choice on validation) takes {pr.get('fit_warm_cache_s')} s of wall time, "
                  f"{pr.get('fit_warm_cache_cpu_s', '-')} s of CPU time (median of {p.get('repeats')} seeds; "
                  f"load {(pr.get('load_average_1_5_15_at_fits') or ['?'])[0]} when the fits started; "
                  f"chosen: {pr.get('chosen')}).", ""]
    return lines


def handwritten_sections(page: str) -> list[str]:
    """The `## ` sections of `page` that hold the `HANDWRITTEN` marker, each as its text."""
    sections, current = [], None
    for line in page.splitlines():
        if line.startswith("## "):
            current = [line]
            sections.append(current)
        elif current is not None:
            current.append(line)
    return ["\n".join(sec).rstrip() for sec in sections if any(HANDWRITTEN in line for line in sec)]


def render(results: dict, previous: str | None = None) -> str:
    """The page for `results`; the hand-written sections of `previous` (the page it replaces)
    are kept at its end."""
    parts = results.get("parts", {})
    m = results.get("machine_at_start", {})
    lines = [HEADER, "## Machine", "",
             f"- CPU: {m.get('cpu')}, {m.get('cores')} cores usable, {m.get('ram_gb')} GB RAM",
             f"- load average (1/5/15 min) when the suite started: {m.get('load_average_1_5_15')}",
             f"- {m.get('platform')}, Python {m.get('python')}, torch {m.get('torch')}, "
             f"numpy {m.get('numpy')}, onnxruntime {m.get('onnxruntime')}",
             f"- suite: {results.get('suite')}, started {m.get('utc')} UTC", ""]
    lines += ["## Summary against the targets", "", "| figure | measured | target | |", "|---|---|---|---|"]
    f = parts.get("features", {})
    inf = parts.get("inference", {})
    tr = parts.get("training", {})
    lat = _get(inf, "latency_one_clip_one_thread", default={})
    rec = _get(inf, "predict_long_recording", default={})
    best_lat = min((_get(lat, k, "median_ms") for k in ("torch", "onnx") if _get(lat, k, "median_ms")), default=None)
    # the engine measured on the full hour (onnx by default) rather than a scaled shorter one
    best_hour = _get(rec, "onnx", "s_per_hour", default=_get(rec, "torch", "s_per_hour"))
    fast_min = _get(tr, "training", "fast", "paper_two_stage_60_epochs_min")
    tp = parts.get("training_paper", {})
    measured_min = tp.get("fast_median_wall_min")
    def v(x, unit=""):
        return "-" if x is None else f"{x}{unit}"

    lines += [
        f"| log-STFT vs per-clip librosa | {v(f.get('speedup'), 'x')} | >= 2x | {_ok(f.get('speedup'), 2.0, False)} |",
        f"| two-stage latency, 1 clip, 1 thread (best engine, median) | {v(best_lat, ' ms')} | < 5 ms | {_ok(best_lat, 5.0)} |",
        f"| same, fastest single run (min; nearest to a quiet machine) | {v(min((_get(lat, k, 'min_ms') for k in ('torch', 'onnx') if _get(lat, k, 'min_ms')), default=None), ' ms')} | < 5 ms | |",
        f"| `predict` on one hour of audio (onnxruntime, 2 threads; wall time) | {v(best_hour, ' s')} | < 60 s | {_ok(best_hour, 60.0)} |",
        f"| full two-stage protocol on `paper`, measured (early stopping as the protocol says) | {v(measured_min, ' min')} | < 20 min | {_ok(measured_min, 20.0)} |",
        f"| same, 60-epoch upper bound (extrapolated from throughput) | {v(fast_min, ' min')} | < 20 min | {_ok(fast_min, 20.0)} |",
        ""]
    if f:
        lines += ["## Log-STFT features", "", f"`{f.get('command')}` (load {_load(f)})", "",
                  "| path | clips/s |", "|---|---|",
                  f"| `features.log_stft` (batched scipy rfft, reused buffers) | {f.get('log_stft_clips_per_s')} |",
                  f"| per-clip `librosa.stft` + `log1p` (reference) | {f.get('librosa_reference_clips_per_s')} |",
                  "", f"Speed-up {f.get('speedup')}x over {f.get('clips')} clips, {f.get('repeats')} repeats; "
                  f"largest difference from the reference {f.get('max_abs_diff'):.1e} (float32), "
                  f"{f.get('fast_float16_max_abs_diff'):.1e} when stored as float16.", ""]
    if inf:
        lines += ["## Inference (two-stage AudioResNet, default network 16/32/64/128, stride-4 stem)", "",
                  f"`{inf.get('command')}` (load {_load(inf)})", "",
                  "One 2 s clip, one thread (features + stage 1 + the routed sub-model):", "",
                  "| path | median ms | p95 ms | min ms |", "|---|---|---|---|"]
        for k, label in (("plain_torch", "plain: librosa features, trained nets, eager torch"),
                         ("torch", "library, torch (batched FFT, folded batch norm, inference mode)"),
                         ("onnx", "library, onnxruntime (`gunshot-bench export`)")):
            lines.append(f"| {label} | {_get(lat, k, 'median_ms')} | {_get(lat, k, 'p95_ms')} | {_get(lat, k, 'min_ms')} |")
        thr = inf.get("throughput_all_cores", {})
        lines += ["", f"Ratios (same run): torch {lat.get('speedup_torch_vs_plain')}x and onnxruntime "
                  f"{lat.get('speedup_onnx_vs_plain')}x the plain path; onnxruntime {lat.get('speedup_onnx_vs_torch')}x torch. "
                  f"The three paths agree on the predicted model for {inf.get('paths_agree_on_clips')} clips.", "",
                  f"Throughput with all {thr.get('threads')} threads, batches of {thr.get('batch')}: "
                  f"torch {thr.get('torch')} clips/s, onnxruntime {thr.get('onnx')} clips/s.", "",
                  f"`predict` on a long recording (noise, one shot every {rec.get('shot_every_s')} s):", "",
                  "| engine | recording | events | wall s | CPU s | decode s | detect s | classify s | wall s per hour | CPU s per hour | real-time factor |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for k in ("onnx", "torch"):
            r = rec.get(k, {})
            if r:
                lines.append(f"| {k} | {r.get('duration_s') / 60:.0f} min | {r.get('events')} | {r.get('wall_s')} | "
                             f"{r.get('cpu_s', '-')} | {r.get('decode_s')} | {r.get('detect_s')} | "
                             f"{r.get('classify_s')} | {r.get('s_per_hour')} | {r.get('cpu_s_per_hour', '-')} | "
                             f"{r.get('real_time_factor')} |")
        lines += ["", "A recording shorter than an hour is scaled linearly to the hour (s per hour); "
                  "the parts are cProfile cumulative times.", ""]
    if tr:
        t = tr.get("training", {})
        lines += ["## Training", "", f"`{tr.get('command')}` (load {_load(tr)})", "",
                  "| path | train samples/s | eval samples/s | two-stage epoch on `paper` | 60-epoch protocol |",
                  "|---|---|---|---|---|"]
        for k, label in (("plain", "plain float32 loop (NCHW, float32 features and forward pass)"),
                         ("fast", "library (float16 features once, channels-last, bf16 autocast)")):
            r = t.get(k, {})
            lines.append(f"| {label} | {r.get('train_samples_per_s')} | {r.get('eval_samples_per_s')} | "
                         f"{r.get('paper_two_stage_epoch_s')} s | {r.get('paper_two_stage_60_epochs_min')} min |")
        f1 = tr.get("macro_f1_bounded_two_stage", {})
        lines += ["", f"Speed-up {t.get('speedup_fast_vs_plain')}x. {t.get('extrapolated')}.", "",
                  f"Accuracy kept: a bounded two-stage training ({f1.get('epochs')} epochs, "
                  f"{f1.get('train_clips')} training clips, {f1.get('test_clips')} test clips of learnable "
                  f"generated tones) on the same seeds gives macro-F1 "
                  f"{_get(f1, 'plain', 'macro_f1_per_seed')} (plain) and {_get(f1, 'fast', 'macro_f1_per_seed')} "
                  f"(library); fit time {_get(f1, 'plain', 'two_stage_fit_s_median')} s vs "
                  f"{_get(f1, 'fast', 'two_stage_fit_s_median')} s ({f1.get('fit_speedup_fast_vs_plain')}x).", ""]
    if tp and "error" not in tp:
        lines += ["## Full two-stage training on the `paper` preset (measured)", "",
                  f"`{tp.get('command')}` (load {_load(tp)}). `baselines/audioresnet_two_stage.toml`, "
                  "study A's protocol (at most 60 epochs per network, early stopping after 15 without "
                  "validation-accuracy gain, best checkpoint restored); test split of the `paper` dataset.", "",
                  "| path | seed | wall min | epochs per network | params | FLOPs per routed net | test accuracy | test macro-F1 | test category accuracy |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in tp.get("runs", []):
            epochs = ", ".join(f"{k} {n}" for k, n in r.get("epochs_per_network", {}).items())
            lines.append(f"| {r.get('path')} | {r.get('seed')} | {r.get('wall_min')} | {epochs} | {r.get('params')} | "
                         f"{r.get('flops_per_clip')} | {r.get('test_accuracy')} | {r.get('test_macro_f1')} | "
                         f"{r.get('test_category_accuracy')} |")
        lines += ["", f"Speed-up of the library over the plain float32 loop: {v(tp.get('speedup_fast_vs_plain'), 'x')} "
                  f"(wall time; the plain loop may stop at another epoch). Mean test macro-F1: library "
                  f"{tp.get('fast_mean_test_macro_f1')}, plain {tp.get('plain_mean_test_macro_f1')}.", ""]
    builds = [(k, v) for k, v in parts.items() if k.startswith("build_")]
    if builds:
        lines += ["## Dataset build (streaming)", "",
                  "Generated `folder` corpus of 2 s clips; `build_dataset` (clean + background, no variants) "
                  "in a fresh process per repeat. Memory: peak RSS of the main process and of the largest "
                  "worker; the total is bounded by main + workers x worker.", "",
                  "| scale | clips | repeats | median wall s | clips/s | peak RSS main MB | worker MB | total bound MB | output MB | load |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for k, b in builds:
            if "error" in b:
                lines.append(f"| {k[6:]} | error: {b['error']} | | | | | | | | |")
                continue
            lines.append(f"| {k[6:]} | {b.get('clips')} | {b.get('repeats')} | {b.get('median_wall_s')} | "
                         f"{b.get('clips_per_s')} | {b.get('peak_rss_main_mb')} | {b.get('peak_rss_worker_mb')} | "
                         f"{b.get('peak_rss_total_bound_mb')} | {b.get('output_mb')} | {_load(b)} |")
        lines += ["", "Commands: " + "; ".join(f"`{b.get('command')}`" for _, b in builds), ""]
    boards = [(k, v) for k, v in parts.items() if k.startswith("leaderboard_")]
    for k, b in boards:
        lines += [f"## Leaderboard main job, `{b.get('preset')}` preset", "", f"`{b.get('command')}` (load {_load(b)})", ""]
        if "error" in b:
            lines += [f"error: {b['error']}", ""]
            continue
        for r in b.get("runs", []):
            steps = ", ".join(f"{s} {v} s" for s, v in r.get("steps_s", {}).items())
            lines += [f"- total {r.get('wall_s')} s ({r.get('wall_s', 0) / 60:.1f} min): {steps}"]
        lines += [f"- median over {b.get('repeats')} run(s): {b.get('median_wall_s')} s", ""]
    lines += _predict_long(parts.get("predict_long", {}))
    lines += _predict_long(parts.get("predict_long_torch", {}))
    lines += _embedding(parts.get("embedding", {}))
    missing = [k for k in results.get("expected_parts", []) if k not in parts]
    if missing:
        lines += ["## Not measured in this run", "",
                  "These parts of the suite did not run to the end here (the time it had ran out); "
                  "`python benchmarks/run_all.py --parts " + ",".join(missing) + "` measures them and "
                  "re-renders this page.", ""]
    notes = results.get("notes")
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    for section in handwritten_sections(previous or ""):
        lines += [section, ""]
    return "\n".join(lines).rstrip("\n") + "\n"
