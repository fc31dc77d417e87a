"""Render a suite report (bench/results/*.json) as the Markdown tables of docs/benchmarks.md.

python -m bench.markdown bench/results/quick.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine(report: dict[str, Any]) -> str:
    """Where and how the figures were taken."""
    m = report["machine"]
    return _table(
        ["", ""],
        [
            ["command", f"`{report['command']}`"],
            ["CPU", f"{m['cpu']}, {m['cores']} cores"],
            ["torch threads per model call", m["torch_threads_per_call"]],
            [
                "streaming lanes, gather",
                f"{m.get('streaming_lanes', '?')}, {m.get('streaming_gather_ms', '?')} ms",
            ],
            [
                "versions",
                f"Python {m['python']}, torch {m['torch']}, FunASR {m['funasr']}, "
                f"Flask-SocketIO {m['flask-socketio']}, python-socketio {m['python-socketio']}",
            ],
            ["suite time", f"{report.get('elapsed_s', '?')} s"],
        ],
    )


def direct(report: dict[str, Any]) -> str:
    """The baseline figures."""
    live, file = report["direct"]["live"], report["direct"]["file"]
    return _table(
        ["c_direct (CPU s per audio s)", "N_ref", "t_chunk p50 / p95", "t_final", "file RTF"],
        [
            [
                live["c_direct"],
                report["n_ref"],
                f"{live['t_chunk_p50_ms']} / {live['t_chunk_p95_ms']} ms",
                f"{live['t_final_ms']} ms",
                file["rtf"],
            ]
        ],
    )


def streams(report: dict[str, Any]) -> str:
    """One row per live-recording run."""
    svc = report["service"]
    rows = []
    for key, title in (
        ("one_stream_100ms", "1 stream, 100 ms frames"),
        ("one_stream_60ms", "1 stream, 60 ms frames"),
        ("one_stream_long", "1 long stream (head sent ahead)"),
    ):
        if key in svc:
            r = svc[key]
            rows.append(
                [
                    title,
                    r["audio_s"],
                    r["first_partial_ms"],
                    f"{r['lag_p50_ms']} / {r['lag_p95_ms']}",
                    r["final_after_stop_ms"],
                    r["server_cpu_per_audio_s"],
                    r["lost_ms"],
                    r["out_of_order"],
                    r["disconnects"],
                    len(r["errors"]),
                ]
            )
    for n, r in sorted(svc["capacity"]["trials"].items(), key=lambda kv: int(kv[0])):
        rows.append(_multi(f"{n} paced streams", report["plan"]["short_s"], r))
    rows.append(
        _multi(
            f"{svc['stress']['streams']} unpaced streams (stress)",
            report["plan"]["short_s"],
            {**svc["stress"], "lag_p50_ms": "–", "lag_p95_ms": "–", "first_partial_ms_median": "–"},
        )
    )
    during = svc["live_during_upload"]["live"]
    rows.append(
        _multi(
            f"{during['streams']} paced during a {report['plan']['long_upload_s']:g} s upload",
            report["plan"]["short_s"],
            during,
        )
    )
    t = report["transport"]
    rows.append(_multi(f"{t['streams']} paced, no-op models", report["plan"]["short_s"], t))
    return _table(
        [
            "run",
            "audio s",
            "first partial ms",
            "lag p50 / p95 ms",
            "final after stop ms",
            "server CPU",
            "lost ms",
            "out of order",
            "disconnects",
            "errors",
        ],
        rows,
    )


def _multi(title: str, seconds: float, r: dict[str, Any]) -> list[Any]:
    cpu = f"{r['server_cores']} cores" if "server_cores" in r else f"{r.get('audio_s_per_wall_s')} audio s/s"
    final = f"{r['final_after_stop_ms_median']} (max {r['final_after_stop_ms_max']})"
    return [
        title,
        seconds,
        r["first_partial_ms_median"],
        f"{r['lag_p50_ms']} / {r['lag_p95_ms']}",
        final,
        cpu,
        r["lost_ms"],
        r["out_of_order"],
        r["disconnects"],
        len(r["errors"]),
    ]


def uploads_and_soak(report: dict[str, Any]) -> str:
    """REST and soak figures."""
    up, soak = report["service"]["uploads"], report["service"]["soak"]
    rss = f"{soak['rss_warm_mb']} → {soak['rss_end_mb']} MB ({soak['rss_growth']:+.1%})"
    return _table(
        ["run", "figures"],
        [
            [
                f"upload {up['audio_s']:g} s, alone",
                f"RTF {up['rtf']} (direct {report['direct']['file']['rtf']}), "
                f"{up['throughput_one']} audio s/s",
            ],
            ["2 uploads at once", f"{up['pair_wall_s']} s for both, {up['throughput_two']} audio s/s"],
            [
                f"soak {report['plan']['soak_minutes']:g} min, {soak.get('slots', '?')} clients",
                f"{soak['recordings']} recordings, {soak['resumes']} resumed after a drop, "
                f"{len(soak['errors'])} errors, "
                f"{soak['disconnects']} disconnects, {soak['lost_ms']} ms lost, RSS {rss}",
            ],
        ],
    )


def targets(report: dict[str, Any]) -> str:
    """The verdict on every target."""
    return _table(
        ["target", "measured", "bound", "met"],
        [
            [t["name"], t["measured"], t["target"], "yes" if t["pass"] else "**no**"]
            for t in report["targets"]
        ],
    )


def render(report: dict[str, Any]) -> str:
    """All tables of one report."""
    parts = [machine(report), direct(report), streams(report), uploads_and_soak(report), targets(report)]
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    print(render(json.loads(Path(sys.argv[1]).read_text())))
