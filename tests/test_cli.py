"""The ceiling-grid command: summary lines, exit codes, one-line input errors, validate and render."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from ceiling_grid.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, expand_inputs, main
from ceiling_grid.observability.env import OTLP_ENDPOINT_ENVS, PUSHGATEWAY_ENV
from ceiling_grid.testing import room_payload
from tests.support.http_recorder import recording_server

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "input"


@pytest.fixture(autouse=True)
def fresh_structlog() -> Iterator[None]:
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def _write(path: Path, payload: dict) -> Path:
    path.write_text(json.dumps(payload))
    return path


def test_run_compliant_room_exits_zero_with_summary_and_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A compliant room prints one summary line, writes its three files and exits 0."""
    room = _write(tmp_path / "office.json", room_payload(6, 5, grid_id="office-1"))
    code = main(["run", str(room), "--out", str(tmp_path / "out"), "--workers", "1"])
    out = capsys.readouterr().out.splitlines()
    assert code == EXIT_OK
    assert len(out) == 1 and out[0].startswith("office-1: COMPLIANT | lights=")
    assert "Em=" in out[0] and "U0=" in out[0] and "worst coverage=" in out[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "office-1.json",
        "office-1.report.json",
        "office-1.svg",
    ]


def test_invalid_room_prints_one_line_and_others_still_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad file gives one stderr line (file, field, fix), no traceback; the good room still runs; exit 2."""
    good = _write(tmp_path / "a.json", room_payload(6, 5, grid_id="good"))
    payload = room_payload(4, 4, grid_id="bad")
    payload["cells"][5]["x"] = 9
    payload["cells"][6]["y"] = -1
    bad = _write(tmp_path / "b.json", payload)
    code = main(["run", str(good), str(bad), "--out", str(tmp_path / "out"), "--workers", "1"])
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if "b.json" in line]
    assert code == EXIT_USAGE
    assert len(err) == 1
    assert "cells[5].x" in err[0] and "fix:" in err[0] and "+1 more" in err[0]
    assert "Traceback" not in captured.err
    assert captured.out.startswith("good: ")


def test_non_compliant_room_exits_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A room whose ceiling is nearly all access panels cannot be lit: INFEASIBLE with the rule, exit 1."""
    states = {(x, y): "access_panel" for x in range(8) for y in range(8) if (x, y) != (4, 4)}
    room = _write(tmp_path / "blocked.json", room_payload(8, 8, grid_id="blocked", states=states))
    code = main(["run", str(room), "--out", str(tmp_path / "out"), "--workers", "1"])
    line = capsys.readouterr().out.strip()
    assert code == EXIT_FAILED
    assert line.startswith("blocked: INFEASIBLE (L3: no free ceiling tile")
    assert "detectors=0" in line and "worst coverage=n/a of 6.40 m" in line


def test_overrides_apply_to_every_room(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--standard and --room-type replace the rooms' own values in the outputs."""
    room = _write(tmp_path / "r.json", room_payload(8, 6, grid_id="over"))
    main(
        [
            "run",
            str(room),
            "--out",
            str(tmp_path / "out"),
            "--workers",
            "1",
            "--standard",
            "bs5839_1",
            "--room-type",
            "conference",
        ]
    )
    capsys.readouterr()
    grid = json.loads((tmp_path / "out" / "over.json").read_text())
    assert grid["detector_standard"] == "bs5839_1" and grid["room_type"] == "conference"


def test_json_logs_emit_model_run_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json-logs --log-level info writes JSON model_run events to stderr, summaries stay on stdout."""
    room = _write(tmp_path / "r.json", room_payload(6, 5, grid_id="logs"))
    main(["run", str(room), "--out", str(tmp_path / "out"), "--workers", "1", "--json-logs", "--log-level", "info"])
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    runs = [e for e in events if e["event"] == "model_run"]
    assert len(runs) == 5 and all(e["grid_id"] == "logs" for e in runs)
    assert {e["stage"] for e in runs} == {"lights", "air_supply", "smoke_detectors"}
    assert any(e["event"] == "pipeline_done" for e in events)
    assert not any(line.startswith("{") for line in captured.out.splitlines())


def test_validate_reports_ok_and_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """validate prints OK for good files and every issue of bad ones; exit 2 when any is bad."""
    good = _write(tmp_path / "g.json", room_payload(3, 3, grid_id="g"))
    assert main(["validate", str(good)]) == EXIT_OK
    assert capsys.readouterr().out.startswith(f"{good}: OK g 3x3")
    payload = room_payload(3, 3, grid_id="b")
    payload["cells"][0]["x"] = "seven"
    payload["cells"][1]["component"] = "laser"
    bad = _write(tmp_path / "b.json", payload)
    assert main(["validate", str(bad), str(tmp_path / "missing.json")]) == EXIT_USAGE
    err = capsys.readouterr().err.splitlines()
    assert any("cells[0].x" in line for line in err) and any("cells[1].component" in line for line in err)
    assert any("missing.json: file not found" in line for line in err)


def test_render_writes_svg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """render re-evaluates a grid file and writes the SVG next to it by default."""
    room = _write(tmp_path / "plan.json", room_payload(5, 4, grid_id="plan", components={(2, 2): "light"}))
    assert main(["render", str(room)]) == EXIT_OK
    assert (tmp_path / "plan.svg").read_text().startswith("<svg ")
    assert capsys.readouterr().out.startswith("plan: NOT COMPLIANT (")


def test_folders_expand_to_sorted_rooms_without_reports(tmp_path: Path) -> None:
    """A folder gives its *.json files in name order, skipping *.report.json; empty folders are problems."""
    for name in ("b.json", "a.json", "a.report.json", "notes.txt"):
        (tmp_path / name).write_text("{}")
    files, problems = expand_inputs([str(tmp_path)])
    assert [f.name for f in files] == ["a.json", "b.json"] and not problems
    (tmp_path / "empty").mkdir()
    _, problems = expand_inputs([str(tmp_path / "empty")])
    assert "no *.json room files" in problems[0].message


def test_duplicate_grid_ids_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two files with the same grid_id would overwrite each other's outputs: the second is refused."""
    a = _write(tmp_path / "a.json", room_payload(6, 5, grid_id="same"))
    b = _write(tmp_path / "b.json", room_payload(6, 5, grid_id="same"))
    code = main(["run", str(a), str(b), "--out", str(tmp_path / "out"), "--workers", "1"])
    captured = capsys.readouterr()
    assert code == EXIT_USAGE and "unique grid_id" in captured.err and len(captured.out.splitlines()) == 1


def test_usage_errors_exit_two(capsys: pytest.CaptureFixture[str]) -> None:
    """A missing --out or a bad --workers value is a usage error (exit 2)."""
    for argv in (["run", "x.json"], ["run", "x.json", "--out", "o", "--workers", "0"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == EXIT_USAGE
    capsys.readouterr()


@pytest.mark.parametrize(("argv", "hint"), [
    (["run", "x.json", "--out", "o", "--standard", "nfpa"], "'nfpa': did you mean 'nfpa72'?"),
    (["run", "x.json", "--out", "o", "--room-type", "ofice"], "'ofice': did you mean 'office'?"),
    (["run", "x.json", "--out", "o", "--log-level", "warn"], "'warn': did you mean 'warning'?"),
    (["import", "x.dxf", "--out", "o", "--room-type", "clasroom"], "'clasroom': did you mean 'classroom'?"),
])
def test_a_mistyped_choice_says_what_was_meant(argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == EXIT_USAGE and hint in capsys.readouterr().err


def test_installed_entry_point_help_has_examples() -> None:
    """The console script exists and its --help shows the examples and exit codes."""
    exe = shutil.which("ceiling-grid", path=str(Path(sys.executable).parent))
    assert exe is not None
    proc = subprocess.run([exe, "run", "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0
    assert "ceiling-grid run data/input --out data/output/cli" in proc.stdout and "exit codes:" in proc.stdout


def test_console_script_runs_a_room_and_exits_with_its_code(tmp_path: Path) -> None:
    """The installed script lays out a room, writes its outputs and exits 0 (a non-compliant room: 1); it
    loads no exporter when no endpoint is set, and a reader that stops early (`| head`) gets no traceback."""
    exe = shutil.which("ceiling-grid", path=str(Path(sys.executable).parent))
    assert exe is not None
    room = _write(tmp_path / "r.json", room_payload(6, 5, grid_id="scripted"))
    env = {k: v for k, v in os.environ.items() if k not in (PUSHGATEWAY_ENV, *OTLP_ENDPOINT_ENVS)}
    probe = ("import sys; sys.argv = ['ceiling-grid', 'run', sys.argv[1], '--out', sys.argv[2]]; "
             "import atexit; atexit.register(lambda: print('loaded', sorted(m for m in sys.modules "
             "if m.startswith(('prometheus_client', 'opentelemetry'))), file=sys.stderr)); "
             "from ceiling_grid.cli import console_main; console_main()")
    proc = subprocess.run([sys.executable, "-c", probe, str(room), str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=120, check=False, env=env)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert proc.stdout.startswith("scripted: COMPLIANT") and (tmp_path / "out" / "scripted.json").is_file()
    assert "loaded []" in proc.stderr  # the exit handlers ran, and no telemetry exporter was imported
    (tmp_path / "many").mkdir()
    for i, size in enumerate((6, 30, 30)):  # the later rooms take long enough for the reader to be gone
        _write(tmp_path / "many" / f"r{i}.json", room_payload(size, size, grid_id=f"r{i}"))
    with subprocess.Popen([exe, "run", str(tmp_path / "many"), "--out", str(tmp_path / "out2")], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as reader:
        assert reader.stdout is not None and reader.stderr is not None
        assert reader.stdout.read(1) == "r"  # `| head -c 1`: read one character, then stop reading
        reader.stdout.close()
        err = reader.stderr.read()
        assert reader.wait(timeout=120) == EXIT_FAILED
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_run_pushes_metrics_and_exports_traces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a gateway and an OTLP endpoint set, one run pushadds the metrics and posts the spans."""
    with recording_server() as (url, requests):
        monkeypatch.setenv("PROMETHEUS_PUSHGATEWAY_URL", url)
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
        room = _write(tmp_path / "r.json", room_payload(6, 5, grid_id="observed"))
        assert main(["run", str(room), "--out", str(tmp_path / "out"), "--workers", "1"]) == EXIT_OK
    capsys.readouterr()
    pushes = [r for r in requests if r[1].startswith("/metrics/job/ceiling_grid_cli/instance/")]
    assert len(pushes) == 1 and pushes[0][0] == "POST"
    assert b'ceiling_grid_rooms_total{outcome="compliant"} 1.0' in pushes[0][2]
    assert (
        b'ceiling_grid_model_selections_total{model="SmokeDetectorModel",stage="smoke_detectors"} 1.0' in (pushes[0][2])
    )
    traces = [r for r in requests if r[1] == "/v1/traces"]
    assert traces and all(b"observed" in r[2] for r in traces)
    assert any(b"model LightModelA" in r[2] for r in traces)


# ----- photometric files ----------------------------------------------------------------------------

def _photometric_files(folder: Path) -> tuple[Path, Path]:
    """A rotational Lambertian IES panel and a quadrant-symmetric EULUMDAT batwing with a decimal comma."""
    import math

    from ceiling_grid.testing import ies_text, lambertian_table, ldt_text

    gamma, cd = lambertian_table(3400.0)
    ies = folder / "panel.ies"
    ies.write_text(ies_text([0], gamma, [cd], keywords={"MANUFAC": "Acme", "LUMCAT": "P600"}))
    c24 = [float(c) for c in range(0, 360, 15)]
    rows = [[300.0 * math.cos(math.radians(g)) * (1 + 0.5 * math.sin(math.radians(c)) ** 2)
             for g in gamma] for c in c24 if c <= 90]
    ldt = folder / "batwing.ldt"
    ldt.write_text(ldt_text(4, c24, gamma, rows, lamp_flux=4000.0, watts=40.0, decimal_comma=True))
    return ies, ldt


def test_photometry_prints_one_json_object_per_file_and_draws_polar_curves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ies, ldt = _photometric_files(tmp_path)
    assert main(["photometry", str(ies), str(ldt), "--svg", str(tmp_path / "plots")]) == EXIT_OK
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (first["format"], first["symmetry"], first["catalogue"]) == ("IES LM-63-2002", "rotational", "P600")
    assert first["total_lumens"] == pytest.approx(3400.0, rel=0.005)
    assert (second["format"], second["symmetry"]) == ("EULUMDAT", "quadrant")
    assert second["beam_angle_deg"]["C90-C270"] > second["beam_angle_deg"]["C0-C180"]  # wider across C90
    assert second["efficacy_lm_per_w"] == pytest.approx(second["total_lumens"] / 40.0, abs=0.1)
    for info in (first, second):
        svg = Path(info["svg"]).read_text()
        assert svg.count("<path") >= 2 and 'width="100%"' in svg


def test_photometry_names_a_broken_file_and_line_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ies, ldt = _photometric_files(tmp_path)
    broken = tmp_path / "broken.ies"
    broken.write_text(ies.read_text().rsplit("\n", 3)[0] + "\n")
    assert main(["photometry", str(broken), str(ldt)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and f"{broken}: line " in captured.err and "truncated" in captured.err
    assert json.loads(captured.out)["file"] == "batwing.ldt"


def test_run_lays_out_a_room_with_a_photometric_file_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _photometric_files(tmp_path)
    room = _write(tmp_path / "office.json",
                  room_payload(14, 10, grid_id="ies-office", luminaire={"photometry": "batwing.ldt"}))
    assert main(["run", str(room), "--out", str(tmp_path / "out"), "--workers", "1"]) == EXIT_OK
    assert "ies-office: COMPLIANT" in capsys.readouterr().out
    report = json.loads((tmp_path / "out" / "ies-office.report.json").read_text())
    assert report["luminaire"]["photometry"] == "batwing.ldt"
    assert report["luminaire"]["symmetry"] == "quadrant"
    assert report["luminaire"]["power_w"] == 40.0
    laid = json.loads((tmp_path / "out" / "ies-office.json").read_text())
    assert laid["luminaire"]["distribution"]["file"] == "batwing.ldt"  # the output re-renders without the file
    polar = (tmp_path / "out" / "ies-office.luminaire.svg").read_text()
    assert "batwing.ldt" in polar or "LDT-1" in polar
    assert main(["render", str(tmp_path / "out" / "ies-office.json"), "--out", str(tmp_path / "r.svg")]) == EXIT_OK


# ----- import ---------------------------------------------------------------------------------------

def test_import_writes_room_files_prints_a_table_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    footprint = {"grid_id": "meeting", "outline": [[0, 0], [7.3, 0], [7.3, 5.1], [0, 5.1]],
                 "columns": [{"centre": [3.6, 2.5], "size": [0.4, 0.4]}], "ceiling_height_m": 2.8}
    src = _write(tmp_path / "meeting.json", footprint)
    assert main(["import", str(src), "--out", str(tmp_path / "rooms")]) == EXIT_OK
    head, row = capsys.readouterr().out.splitlines()
    assert head.split()[:3] == ["room", "area", "m2"] and row.split()[:6] == ["meeting", "37.2", "13x9", "116",
                                                                             "2.8", "1"]
    room = json.loads((tmp_path / "rooms" / "meeting.json").read_text())
    assert "cells" in room and room["metadata"]["placement"]["footprint_area_m2"] == pytest.approx(37.23)
    assert main(["validate", str(tmp_path / "rooms" / "meeting.json"), str(src)]) == EXIT_OK  # both forms load
    capsys.readouterr()
    assert main(["import", str(src), "--out", str(tmp_path / "rooms")]) == EXIT_USAGE  # exists: not replaced
    assert "exists (fix: pass --force" in capsys.readouterr().err
    assert main(["import", str(src), "--out", str(tmp_path)]) == EXIT_USAGE  # would overwrite its own input
    assert "would overwrite the input" in capsys.readouterr().err
    assert json.loads(src.read_text()) == footprint


def test_the_cli_module_imports_nothing_heavy() -> None:
    """`import ceiling_grid.cli` (what --help and usage errors pay) loads no numpy, scipy, pydantic or structlog:
    each command imports what it needs."""
    code = ("import sys, ceiling_grid.cli; "
            "print(sorted(m for m in ('numpy', 'scipy', 'pydantic', 'structlog') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
    from ceiling_grid.cli import DEFAULT_CLI_LOG_LEVEL
    from ceiling_grid.observability.logging import DEFAULT_CLI_LOG_LEVEL as CONFIGURED

    assert DEFAULT_CLI_LOG_LEVEL == CONFIGURED
