"""The bench table puts the two backends side by side and checks the ONNX targets."""

from __future__ import annotations

from bot.devtools.bench_table import render_table


def _backend(encode_p50: float, cold_s: float, rss_mb: float, imported: list[str]) -> dict:
    ms = {"p50": encode_p50, "p95": encode_p50 * 1.5, "p99": encode_p50 * 2, "n": 10}
    return {
        "raw_encode_ms": ms,
        "full_answer_ms": ms,
        "full_to_raw_p50": 1.0,
        "repeated": {"cached": ms, "uncached": ms, "hit_rate": 0.9},
        "concurrency": [
            {
                "users": 32,
                "throughput_per_s": 1000 / encode_p50,
                "latency_ms": ms,
                "loop_lag_max_ms": 1,
            }
        ],
        "cold_start": {
            "first_answer_s": cold_s,
            "bare_model_s": cold_s,
            "serving_peak_rss_mb": rss_mb,
            "bare_model_peak_rss_mb": rss_mb,
            "serving_imported": imported,
        },
    }


def _results(onnx: dict) -> dict:
    return {
        "machine": "test",
        "torch": _backend(10.0, 4.0, 600.0, ["torch"]),
        "onnx": onnx,
        "build": {"index_s": 1.0, "onnx_export_s": 5.0},
        "fan_out": {
            "subscribers": 10,
            "seconds": 1.0,
            "overhead_ms_per_reminder": 0.1,
            "delivered_once": True,
        },
        "bench_process_peak_rss_mb": 900.0,
    }


def test_targets_met_are_ticked() -> None:
    table = render_table(_results(_backend(3.0, 1.2, 250.0, [])))
    assert "| raw encode, 1 question | p50 10.0 · p99 20.0 ms | p50 3.0 · p99 6.0 ms |" in table
    assert "onnx/torch p50 0.3× (target ≤ 0.4×) ✓" in table
    assert "onnx/torch 0.3× (target ≤ 0.35× and ≤ 1.5 s) ✓" in table
    assert "target ≤ 300 MB ✓ · onnx: no torch imported" in table


def test_targets_missed_are_crossed() -> None:
    table = render_table(_results(_backend(5.0, 1.6, 320.0, ["torch"])))
    assert "(target ≤ 0.4×) ✗" in table
    assert "≤ 1.5 s) ✗" in table  # 0.4× of torch, and over 1.5 s
    assert "target ≤ 300 MB ✗ · onnx: imported torch" in table
