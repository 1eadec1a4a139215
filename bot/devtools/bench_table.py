"""The `kneebot bench` results as the table the README shows: torch and ONNX side by side."""

from __future__ import annotations

# The targets for the ONNX backend, checked in the note column.
ENCODE_RATIO_TARGET = 0.4
COLD_RATIO_TARGET = 0.35
COLD_SECONDS_TARGET = 1.5
SERVING_RSS_TARGET_MB = 300

Row = tuple[str, str, str, str]


def render_table(r: dict) -> str:
    """One row per measurement, one column per backend, ratios and targets in the note."""
    torch, onnx = r["torch"], r["onnx"]
    rows = [*_speed_rows(torch, onnx), *_concurrency_rows(torch, onnx), *_start_rows(torch, onnx)]
    build, fan = r["build"], r["fan_out"]
    rows.append(
        (
            "index build (torch) · ONNX export",
            f"{build['index_s']} s",
            f"{build['onnx_export_s']} s",
            "`kneebot build-index` does both",
        )
    )
    rows.append(
        (
            f"reminder fan-out, {fan['subscribers']} due",
            f"{fan['seconds']} s · {fan['overhead_ms_per_reminder']} ms/reminder overhead",
            "",
            f"delivered once: {fan['delivered_once']}",
        )
    )
    lines = ["| measurement | torch | onnx | note |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    footer = f"bench process peak RSS {r['bench_process_peak_rss_mb']} MB"
    return f"Machine: {r['machine']}\n\n" + "\n".join(lines) + f"\n\n{footer}"


def _ratio(onnx: float, torch: float) -> float:
    return round(onnx / torch, 2) if torch else float("nan")


def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def _speed_rows(torch: dict, onnx: dict) -> list[Row]:
    def raw(b: dict) -> str:
        return f"p50 {b['raw_encode_ms']['p50']} · p99 {b['raw_encode_ms']['p99']} ms"

    def full(b: dict) -> str:
        f = b["full_answer_ms"]
        return f"p50 {f['p50']} · p95 {f['p95']} · p99 {f['p99']} ms"

    def cached(b: dict) -> str:
        c = b["repeated"]["cached"]
        return f"p50 {c['p50']} · p99 {c['p99']} ms"

    encode = _ratio(onnx["raw_encode_ms"]["p50"], torch["raw_encode_ms"]["p50"])
    return [
        (
            "raw encode, 1 question",
            raw(torch),
            raw(onnx),
            f"onnx/torch p50 {encode}× (target ≤ {ENCODE_RATIO_TARGET}×) "
            f"{_mark(encode <= ENCODE_RATIO_TARGET)}",
        ),
        (
            "full answer path",
            full(torch),
            full(onnx),
            f"{torch['full_to_raw_p50']}× · {onnx['full_to_raw_p50']}× raw p50",
        ),
        (
            "repeated question (cached)",
            cached(torch),
            cached(onnx),
            f"hit rate {onnx['repeated']['hit_rate']:.0%}",
        ),
    ]


def _concurrency_rows(torch: dict, onnx: dict) -> list[Row]:
    rows = []
    for t, o in zip(torch["concurrency"], onnx["concurrency"], strict=True):
        rows.append(
            (
                f"{t['users']} concurrent users",
                f"{t['throughput_per_s']} answers/s · p99 {t['latency_ms']['p99']} ms",
                f"{o['throughput_per_s']} answers/s · p99 {o['latency_ms']['p99']} ms",
                f"{_ratio(o['throughput_per_s'], t['throughput_per_s'])}× throughput · "
                f"loop lag max {t['loop_lag_max_ms']} / {o['loop_lag_max_ms']} ms",
            )
        )
    return rows


def _start_rows(torch: dict, onnx: dict) -> list[Row]:
    t, o = torch["cold_start"], onnx["cold_start"]
    cold = _ratio(o["first_answer_s"], t["first_answer_s"])
    cold_ok = cold <= COLD_RATIO_TARGET and o["first_answer_s"] <= COLD_SECONDS_TARGET
    rss_ok = o["serving_peak_rss_mb"] <= SERVING_RSS_TARGET_MB
    torch_free = "no torch imported" if not o["serving_imported"] else "imported torch"
    return [
        (
            "cold start to first answer",
            f"{t['first_answer_s']} s (bare model {t['bare_model_s']} s)",
            f"{o['first_answer_s']} s (bare model {o['bare_model_s']} s)",
            f"onnx/torch {cold}× (target ≤ {COLD_RATIO_TARGET}× and ≤ {COLD_SECONDS_TARGET} s) "
            f"{_mark(cold_ok)}",
        ),
        (
            "serving peak RSS, 128 concurrent",
            f"{t['serving_peak_rss_mb']} MB (bare model {t['bare_model_peak_rss_mb']} MB)",
            f"{o['serving_peak_rss_mb']} MB (bare model {o['bare_model_peak_rss_mb']} MB)",
            f"target ≤ {SERVING_RSS_TARGET_MB} MB {_mark(rss_ok)} · onnx: {torch_free}",
        ),
    ]
