#!/usr/bin/env python3
"""Side-by-side benchmark of wasmflow against SpiffWorkflow and bpmn-engine.

    python3 bench/peers/run.py [--quick] [--repeat N] [--timeout SECONDS] [--write]

Installs the peers on first use under target/peers/, generates the same workloads for each
engine in its own script language, runs every engine as whole processes, interleaved, and
prints the medians of wall time and peak RSS as Markdown. --write also replaces the section
"## Against the peers (bench/peers)" in BENCHMARKS.md. Not part of `cargo test` or CI.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import workloads  # noqa: E402

SPIFFWORKFLOW_VERSION = "3.2.0"
BPMN_ENGINE_VERSION = "25.0.1"

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PEERS = ROOT / "target" / "peers"
WASMFLOW = ROOT / "target" / "release" / "wasmflow"
SECTION = "## Against the peers (bench/peers)"
START_DATA = {"x": 0}


# --- installing -------------------------------------------------------------------------


def sh(*argv, **kwargs):
    subprocess.run([str(a) for a in argv], check=True, **kwargs)


def install_spiffworkflow():
    venv = PEERS / "spiffworkflow-venv"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('SpiffWorkflow'))"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() == SPIFFWORKFLOW_VERSION:
        return python
    print(f"installing SpiffWorkflow {SPIFFWORKFLOW_VERSION} into {venv}", file=sys.stderr)
    sh(sys.executable, "-m", "venv", venv)
    sh(python, "-m", "pip", "install", "--quiet", f"SpiffWorkflow=={SPIFFWORKFLOW_VERSION}")
    return python


def install_bpmn_engine():
    folder = PEERS / "bpmn-engine"
    modules = folder / "node_modules"
    installed = modules / "bpmn-engine" / "package.json"
    if installed.exists() and json.loads(installed.read_text())["version"] == BPMN_ENGINE_VERSION:
        return modules
    print(f"installing bpmn-engine {BPMN_ENGINE_VERSION} into {folder}", file=sys.stderr)
    folder.mkdir(parents=True, exist_ok=True)
    # A package.json of its own keeps npm from looking for a project further up.
    (folder / "package.json").write_text('{"private": true}\n')
    sh("npm", "install", "--no-audit", "--no-fund", "--save-exact", f"bpmn-engine@{BPMN_ENGINE_VERSION}", cwd=folder)
    return modules


def snapshot_wasmflow():
    """A copy of the release binary, built if missing: a rebuild during the run (target/ is
    shared) would otherwise change the binary under the benchmark and its compiled-module cache."""
    if not WASMFLOW.exists():
        sh("cargo", "build", "--release", "-p", "wasmflow", cwd=ROOT)
    snapshot = PEERS / "wasmflow"
    shutil.copy2(WASMFLOW, snapshot)
    return snapshot


# --- workloads --------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    label: str
    fixture: str  # file name of the generated diagram; a save and its load share it
    build: object  # Dialect -> BPMN XML
    expected_x: int | None  # None: the result is not checked
    mode: str = "run"  # run, save (run and keep the finished instance), load (read it back)
    only: tuple = ()  # engine names, when not every engine runs it
    chain_tasks: int | None = None  # for the per-task marginal cost


def chain(n, **kwargs):
    return Workload(f"chain, {n:,} tasks", f"chain-{n}", lambda d: workloads.chain(d, n), n, chain_tasks=n, **kwargs)


def save_and_load(n):
    build = lambda d: workloads.chain(d, n)  # noqa: E731
    return [
        Workload(f"save, finished {n:,}-task chain", f"chain-{n}", build, n, mode="save"),
        Workload(f"load, finished {n:,}-task chain", f"chain-{n}", build, n, mode="load"),
    ]


def all_workloads(quick):
    chains = [10, 100, 1000] if quick else [10, 100, 1000, 10_000]
    loops = [1000] if quick else [1000, 10_000]
    result = [Workload("start-up, 1 task", "chain-1", lambda d: workloads.chain(d, 1), 1)]
    result += [chain(n) for n in chains]
    if not quick:
        result.append(chain(100_000, only=("wasmflow",)))
    result += [
        Workload(f"gateway loop, {n:,} iterations", f"loop-{n}", lambda d, n=n: workloads.gateway_loop(d, n), n)
        for n in loops
    ]
    # Branches all add one to the x they were given; joins merge differently per engine.
    result.append(Workload("parallel fork/join, 100 branches", "parallel-100", lambda d: workloads.parallel(d, 100), None))
    result += save_and_load(100)
    if not quick:
        result += save_and_load(1000)
    return result


# --- engines ----------------------------------------------------------------------------


class Engine:
    """How to run a workload on one engine and read its answer."""

    name = ""  # its key in workloads.DIALECTS
    title = ""  # as the tables name it

    def __init__(self, scratch):
        self.scratch = scratch
        self.dialect = workloads.DIALECTS[self.name]
        (scratch / self.name).mkdir(parents=True, exist_ok=True)

    def fixture(self, workload):
        path = self.scratch / self.name / f"{workload.fixture}.bpmn"
        if not path.exists():
            path.write_text(workload.build(self.dialect))
        return path

    def state_file(self, workload):
        """Where a save keeps the finished instance for its load."""
        return self.scratch / self.name / f"{workload.fixture}.state"


class Wasmflow(Engine):
    name = "wasmflow"
    title = "wasmflow"

    def __init__(self, scratch, binary):
        super().__init__(scratch)
        self.binary = binary

    def version(self):
        version = subprocess.run([str(self.binary), "--version"], capture_output=True, text=True).stdout.strip()
        return f"{version} (target/release/wasmflow as copied at the start of the run; HEAD was `{commit()}`)"

    def instance_id_file(self, workload):
        return self.state_file(workload).with_suffix(".id")

    def saved(self, workload):
        return self.instance_id_file(workload).exists()

    def command(self, workload):
        database = self.state_file(workload).with_suffix(".db")
        if workload.mode == "load":
            instance_id = self.instance_id_file(workload).read_text()
            return [self.binary, "show", instance_id, "--db", database, "--json"]
        argv = [self.binary, "run", self.fixture(workload), "--data", json.dumps(START_DATA), "--json"]
        if workload.mode == "save":
            # `run` creates a database only in a missing file: every save starts afresh.
            database.unlink(missing_ok=True)
            self.instance_id_file(workload).unlink(missing_ok=True)
            argv += ["--db", database]
        return argv

    def answer(self, workload, stdout):
        reply = json.loads(stdout)
        if workload.mode == "save":
            self.instance_id_file(workload).write_text(reply["id"])
        if reply["status"] != "completed":
            return reply["status"], None, reply.get("error")
        return "completed", reply["data"].get("x"), None


class DriverEngine(Engine):
    """A peer run through its driver script, which prints one JSON line."""

    def answer(self, workload, stdout):
        reply = json.loads(stdout.strip().splitlines()[-1])
        return reply["status"], reply.get("x"), reply.get("error")

    def saved(self, workload):
        return self.state_file(workload).exists()

    def driver_args(self, workload):
        state = self.state_file(workload)
        if workload.mode == "load":
            return ["load", state]
        if workload.mode == "save":
            state.unlink(missing_ok=True)
            return ["save", self.fixture(workload), state]
        return ["run", self.fixture(workload)]


class SpiffWorkflow(DriverEngine):
    name = "spiffworkflow"
    title = "SpiffWorkflow"

    def __init__(self, scratch, python):
        super().__init__(scratch)
        self.python = python

    def version(self):
        # The virtual environment was made from this Python.
        return f"SpiffWorkflow {SPIFFWORKFLOW_VERSION} (Python {platform.python_version()})"

    def command(self, workload):
        return [self.python, HERE / "spiff_driver.py"] + self.driver_args(workload)


class BpmnEngine(DriverEngine):
    name = "bpmn-engine"
    title = "bpmn-engine"

    def __init__(self, scratch, modules):
        super().__init__(scratch)
        self.modules = modules

    def version(self):
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        return f"bpmn-engine {BPMN_ENGINE_VERSION} (Node {node})"

    def command(self, workload):
        return ["node", HERE / "bpmn_engine_driver.cjs", self.modules] + self.driver_args(workload)


# --- measuring --------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    peak_rss_mib: float
    failure: str | None  # None when the run completed with the expected result


def measure(argv, timeout, env):
    """Runs argv as a child process: its wall time, peak RSS, whether it timed out, its output.

    The peak RSS comes from /usr/bin/time rather than this harness's own wait4(): Linux keeps
    a process's peak RSS across fork and exec, so a child of this (larger) process would
    report at least this process's size; /usr/bin/time is small."""
    with tempfile.TemporaryDirectory() as scratch:
        out, err, rss = (Path(scratch) / name for name in ("stdout", "stderr", "rss"))
        timed = ["/usr/bin/time", "-f", "%M", "-o", rss] + argv
        with out.open("wb") as stdout, err.open("wb") as stderr:
            started = time.perf_counter()
            # A session of its own, so that a timeout kills the engine and not only `time`.
            child = subprocess.Popen([str(a) for a in timed], stdout=stdout, stderr=stderr, env=env, start_new_session=True)
            try:
                child.wait(timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                timed_out = True
            seconds = time.perf_counter() - started
        # On a failed command, `time` writes a line about its status before the figure.
        lines = rss.read_text().split() if rss.exists() else []
        peak_kib = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        return seconds, peak_kib / 1024, timed_out, out.read_text(), err.read_text()


def one_line(message):
    """An engine's message, fit for a table cell."""
    return " ".join(str(message).split()).replace("|", "/")[:80]


def run_once(engine, workload, timeout, env):
    if workload.mode == "load" and not engine.saved(workload):
        return Run(0, 0, "not run: nothing saved")
    seconds, rss, timed_out, stdout, stderr = measure(engine.command(workload), timeout, env)
    if timed_out:
        return Run(seconds, rss, f"timed out ({timeout:g} s)")
    try:
        status, x, error = engine.answer(workload, stdout)
    except (ValueError, KeyError, IndexError):
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        return Run(seconds, rss, f"failed: {one_line(last)}")
    if status != "completed":
        return Run(seconds, rss, f"failed: {one_line(error or status)}")
    if workload.expected_x is not None and x != workload.expected_x:
        return Run(seconds, rss, f"wrong result: x = {x}")
    return Run(seconds, rss, None)


@dataclass
class Cell:
    runs: list = field(default_factory=list)

    @property
    def failure(self):
        return next((r.failure for r in self.runs if r.failure), None)

    def median_seconds(self):
        return statistics.median(r.seconds for r in self.runs)

    def median_rss(self):
        return statistics.median(r.peak_rss_mib for r in self.runs)


def benchmark(engines, workload_list, repeat, timeout, env):
    cells = {(w.label, e.name): Cell() for w in workload_list for e in engines}
    # A warm-up run per engine, not measured: it fills wasmflow's compiled-module cache
    # and the page cache for every engine's interpreter and libraries. Compiling the
    # interpreter takes a minute on a busy machine, so it gets more than one run's timeout.
    for engine in engines:
        run_once(engine, workload_list[0], max(timeout, 600), env)
    for workload in workload_list:
        runners = [e for e in engines if not workload.only or e.name in workload.only]
        print(f"{workload.label}: ", end="", file=sys.stderr, flush=True)
        for _ in range(repeat):
            for engine in runners:
                cell = cells[(workload.label, engine.name)]
                # Failures here are deterministic: one is enough, repeating it only costs time.
                if cell.failure:
                    continue
                cell.runs.append(run_once(engine, workload, timeout, env))
                print("." if not cell.failure else "x", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    return cells


# --- reporting --------------------------------------------------------------------------


def ms(seconds):
    value = seconds * 1000
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def ratio(peer, ours):
    if peer is None or ours is None or peer.failure or ours.failure or not peer.runs or not ours.runs:
        return "–"
    return factor_text(peer.median_seconds() / ours.median_seconds())


def factor_text(factor):
    return f"{factor:.1f}×" if factor >= 1 else f"{factor:.2f}×"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def report(engines, workload_list, cells):
    names = [e.name for e in engines]
    peers = names[1:]
    titles = [e.title for e in engines]

    def cell(workload, name):
        return cells.get((workload.label, name)) if not workload.only or name in workload.only else None

    def show(c, value):
        if c is None:
            return "–"
        return c.failure if c.failure else value(c)

    wall_rows = [
        [w.label]
        + [show(cell(w, n), lambda c: ms(c.median_seconds())) for n in names]
        + [ratio(cell(w, p), cell(w, "wasmflow")) for p in peers]
        for w in workload_list
    ]
    memory_rows = [[w.label] + [show(cell(w, n), lambda c: f"{c.median_rss():.0f}") for n in names] for w in workload_list]

    chains = [w for w in workload_list if w.chain_tasks]
    base = chains[0]
    marginal_rows = []
    for w in chains[1:]:
        row = [f"{base.chain_tasks:,} → {w.chain_tasks:,}"]
        values = {}
        for n in names:
            small, large = cell(base, n), cell(w, n)
            if large is None:
                row.append("–")
            elif large.failure or small.failure:
                row.append(large.failure or small.failure)
            else:
                values[n] = (large.median_seconds() - small.median_seconds()) / (w.chain_tasks - base.chain_tasks)
                row.append(f"{values[n] * 1e6:,.1f}")
        for p in peers:
            both = p in values and "wasmflow" in values and values["wasmflow"] > 0
            row.append(factor_text(values[p] / values["wasmflow"]) if both else "–")
        marginal_rows.append(row)

    ratio_header = [f"{e.title} / wasmflow" for e in engines[1:]]
    return "\n\n".join(
        [
            "Wall time of the whole process, median, ms:",
            table(["workload"] + titles + ratio_header, wall_rows),
            "Per-task marginal cost of a chain, (t(N) − t(small N)) / (N − small N), µs per task:",
            table(["chain"] + titles + ratio_header, marginal_rows),
            "Peak RSS of the process, median, MiB:",
            table(["workload"] + titles, memory_rows),
        ]
    )


READING = """\
How to read it. Each figure is a whole process, started afresh, as a user would run it: the
interpreter or binary starting, the diagram parsed, the instance run to its end; every engine
starts with x = 0 and each script task adds one (SpiffWorkflow and wasmflow in Python,
bpmn-engine in JavaScript), and a run whose final x is not the expected one counts as wrong,
not as a time. The start-up row is what one task costs with all of that; the marginal cost
subtracts the 10-task chain from the longer ones, so it is what one more script task costs
once the process runs (for wasmflow, that of `wasmflow run --json`, which prints every task;
the chain figures of `cargo bench` above are the library's), and the ratios are
peer / wasmflow (above 1× means wasmflow is faster).
"save" runs the chain and keeps the finished instance: wasmflow with `run --db FILE`, saving
every step into SQLite as it goes; SpiffWorkflow with one `BpmnWorkflowSerializer`
`serialize_json` at the end; bpmn-engine with one `getState()` written as JSON. "load" is a new
process reading that back: `wasmflow show ID --db FILE` (the instance with its tasks, printed
as JSON), `deserialize_json`, bpmn-engine's `recover()` and `resume()` of the finished
instance. Subtract the chain row of the same length for the cost of saving. A failure is what
the engine did: SpiffWorkflow's parser recurses once per task of a chain (RecursionError
before 500 tasks), and its task iterator stops 1,000 tasks deep (`TaskIterator`'s
`max_depth`), so a longer loop ends "completed" with the end event never reached: a wrong x;
bpmn-engine's synchronous `next()` chains grow the stack with each task (RangeError, maximum
call stack size exceeded, between 300 and 350 tasks). A failed cell was run once; a load
whose save failed is "not run"."""


def commit():
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()


def section(engines, command, repeat, body, load_at_start):
    versions = "".join(f"- {e.version()}\n" for e in engines)
    return (
        f"{SECTION}\n\n"
        f"```sh\n{command}\n```\n\n"
        "Not the `cargo bench` above: a separate harness that runs each engine as whole processes,\n"
        f"interleaved (wasmflow, SpiffWorkflow, bpmn-engine, again), {repeat} repetitions, medians.\n"
        f"Run of {datetime.date.today().isoformat()} on {len(os.sched_getaffinity(0))} cores (nproc), "
        f"Linux {platform.uname().release};\nload average {load_at_start:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end (the machine was shared). Versions:\n\n{versions}\n"
        f"{body}\n\n{READING}\n"
    )


def write_section(text):
    """Replaces the section in BENCHMARKS.md, or appends it; other sections stay as they are."""
    path = ROOT / "BENCHMARKS.md"
    lines = path.read_text().splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\n") == SECTION]
    if starts:
        start = starts[0]
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = [text + ("\n" if end < len(lines) else "")]
    else:
        lines.append("\n" + text)
    path.write_text("".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repetitions, chains up to 1,000 tasks: a smoke run")
    parser.add_argument("--repeat", type=int, help="repetitions per engine and workload (default 5, quick 2)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per run before it counts as timed out")
    parser.add_argument("--write", action="store_true", help="replace the section in BENCHMARKS.md")
    args = parser.parse_args()
    repeat = args.repeat or (2 if args.quick else 5)
    load_at_start = os.getloadavg()[0]

    # Fixtures and saved instances of this run only: a changed generator never meets old files.
    scratch = PEERS / "run"
    shutil.rmtree(scratch, ignore_errors=True)
    env = dict(os.environ, WASMFLOW_CACHE_DIR=str(PEERS / "wasmflow-cache"))
    engines = [
        Wasmflow(scratch, snapshot_wasmflow()),
        SpiffWorkflow(scratch, install_spiffworkflow()),
        BpmnEngine(scratch, install_bpmn_engine()),
    ]
    workload_list = all_workloads(args.quick)
    cells = benchmark(engines, workload_list, repeat, args.timeout, env)
    body = report(engines, workload_list, cells)
    print(body)
    if args.write:
        command = "python3 bench/peers/run.py " + " ".join(sys.argv[1:])
        write_section(section(engines, command, repeat, body, load_at_start))
        print(f"\nwrote the section to {ROOT / 'BENCHMARKS.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
