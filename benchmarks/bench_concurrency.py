"""Concurrent use (issue 19, part 6): launches ``streamlit run app.py`` on the shipped assets
(or ``--checkpoint`` / ``--index``, or ``--tiny``: the tests' tiny checkpoint + index, built
here), opens ``--sessions`` browser sessions at once (one Chromium, one browser context each:
separate cookies, separate Streamlit sessions) and drives them for ``--minutes``, each in a loop
of text searches, an upload of a small CIF and, once per session, a small index build on the
Corpus page. Prints one JSON object:

* ``actions`` / ``latency_s``: how many of each kind and their p50 / p95 / max in seconds
  (``search``: Enter in the search box -> the run finished and the results grid, or the page's
  message, shows; ``upload``: file chosen -> the run that analysed it finished; ``build``:
  click on "Build index" -> "now selected in the sidebar"; ``nav``: click in the sidebar's page
  list -> the page's run finished);
* ``errors``: Playwright timeouts and other failures of a step, Streamlit exception elements
  (``stException``) and error alerts, with the first few messages; ``server_log_tracebacks``;
* ``isolation_violations``: a session whose Upload page shows another session's file
  (``s{j}_{n}.cif``), or whose sidebar index selector lists another session's index
  (``sess{j}``) or lacks its own after building it;
* ``rss_mb``: the server's resident memory (with its child processes) every ``--sample-s``
  seconds from the start of the load, ``rss_mb_at_1min``, ``rss_mb_max_after_1min`` and
  ``rss_growth_after_1min`` = max after the first minute / value at one minute - 1, and
  ``rss_growth_end`` = last sample / value at one minute - 1 (a transient peak, such as every
  session building its index at once, counts in the first only);
* ``cpu_count``, ``loadavg_start`` / ``loadavg_end`` (the machine's 1/5/15-minute load).

A benchmark, not a test: it asserts nothing (targets in the issue: no error, RSS growth after
the first minute <= 0.2, no isolation violation). Indexes built by the sessions go to a
temporary ``CLAC_USER_INDEXES``, removed at the end.

    .venv/bin/python benchmarks/bench_concurrency.py [--sessions 10] [--minutes 5] [--port 8632]
    .venv/bin/python benchmarks/bench_concurrency.py --tiny --sessions 3 --minutes 1   # quick check
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from browser_kit import ARGS, CHROMIUM, RUN_WATCH, _settle, start_app, stop_app, wait_healthy  # noqa: E402

QUERIES = [  # a spread of what users type; not an eval set (nothing is scored)
    "material with bandgap around 1.5 eV",
    "magnetic iron compound",
    "layered sulfide",
    "lithium cobalt oxide",
    "cubic perovskite",
    "thermoelectric telluride",
    "semiconductor without lead or cadmium, gap 1-2 eV",
    "hard material with bulk modulus above 250 GPa",
    "transparent conducting oxide",
    "metallic nitride",
    "stable fluoride with a gap above 5 eV",
    "hexagonal layered material",
    "rock salt chloride",
    "wide band gap oxide",
    "non-magnetic insulator",
    "copper chalcogenide",
]
SEARCHES_PER_ROUND = 3
BOX = "Describe the crystal you are looking for"
MAIN = "[data-testid='stMain']"
UPLOAD_NAME = re.compile(r"\bs(\d+)_(\d+)\.cif")
OWN_INDEX = re.compile(r"\bsess(\d+)\b")


class _Grab:
    """Stands in for a page to read the condition :func:`browser_kit._settle` waits for, so the
    async sessions here wait for exactly what the browser tests wait for."""

    expr = ""

    def wait_for_function(self, expr: str, **_kw) -> None:
        self.expr = expr


_g = _Grab()
_settle(_g)
SETTLE_JS = _g.expr
# the parts of SETTLE_JS, read when a wait for it times out
STATE_JS = """() => ({
  runStart_minus_acted_ms: Math.round(window.__clacRunStart - window.__clacActed),
  lastMsg_minus_acted_ms: Math.round(window.__clacLastMsg - window.__clacActed),
  script_state: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state'),
  status_widget: !!document.querySelector('[data-testid="stStatusWidget"]'),
  stale: document.querySelectorAll('[data-stale="true"]').length,
  visibility: document.visibilityState,
})"""
T0 = time.perf_counter()  # errors say when they happened, from the start of the script


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def _short(exc: BaseException | str, n: int = 300) -> str:
    text = str(exc).strip().splitlines()
    return " ".join((text[0] if text else type(exc).__name__).split())[:n]


class Stats:
    """What every session records (one event loop: no locks needed)."""

    def __init__(self) -> None:
        self.lat: dict[str, list[float]] = {"search": [], "upload": [], "build": [], "nav": []}
        self.actions: dict[str, int] = {k: 0 for k in ("search", "upload", "build", "nav")}
        self.errors: list[str] = []
        self.violations: list[str] = []
        self.checks = {"upload": 0, "index": 0}  # isolation checks made
        self.reloads = 0
        self.no_results = 0

    def error(self, i: int, what: str, msg: str) -> None:
        self.errors.append(f"s{i} {what}: {msg}")

    def violation(self, i: int, msg: str) -> None:
        self.violations.append(f"s{i}: {msg}")


def _cif(i: int, n: int) -> str:
    """A small valid CIF (rock salt NaCl, diamond Si or rock salt MgO, its cell stretched a little
    per upload), whose data block and first line name the session and the upload."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    kind = n % 3
    a = (5.64, 5.43, 4.21)[kind] * (1 + 0.002 * (n % 10))
    species, coords = ((["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]), (["Si"], [[0, 0, 0]]),
                       (["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]))[kind]  # fmt: skip
    s = Structure.from_spacegroup("Fd-3m" if kind == 1 else "Fm-3m", Lattice.cubic(a), species, coords)
    text = re.sub(r"^data_\S*", f"data_s{i}_{n}", str(CifWriter(s)), count=1, flags=re.MULTILINE)
    return f"# bench_concurrency: session {i}, upload {n}\n{text}"


class Session:
    """One browser session (its own browser context) looping over searches, uploads and one
    index build until the deadline."""

    def __init__(self, i: int, browser, url: str, work: Path, stats: Stats, timeout_s: float) -> None:
        self.i, self.browser, self.url, self.work, self.stats = i, browser, url, work, stats
        self.timeout_ms = timeout_s * 1000
        self.page = None
        self.built = False
        self.uploads = 0
        self.q = i  # sessions start at different queries
        self.where = ""

    async def settle(self) -> None:
        try:
            await self.page.wait_for_function(SETTLE_JS, timeout=self.timeout_ms)
        except Exception as exc:  # say which part of the condition was unmet, and when
            try:
                state = await self.page.evaluate(STATE_JS)
            except Exception as inner:  # the page itself is gone or hung
                state = f"page state unreadable: {_short(inner, 120)}"
            raise TimeoutError(f"{_short(exc, 120)} at t={time.perf_counter() - T0:.0f}s; {state}") from exc

    async def open(self, path: str = "search") -> None:
        """Load a page of the app: a new Streamlit session (and a new private index folder)."""
        if self.page is None:
            ctx = await self.browser.new_context(viewport={"width": 1400, "height": 1700})
            await ctx.add_init_script(RUN_WATCH)
            self.page = await ctx.new_page()
            self.page.set_default_timeout(self.timeout_ms)
        await self.page.goto(f"{self.url}/{path}")
        await self.page.wait_for_selector("h1")
        await self.page.get_by_text("Corpus index").first.wait_for()  # the shared sidebar drawn
        await self.settle()
        self.where = path
        self.built = False

    async def nav(self, title: str, where: str) -> None:
        if self.where == where:
            return
        pg = self.page
        t = time.perf_counter()
        await pg.locator("[data-testid='stSidebarNav']").get_by_text(title, exact=True).click()
        await pg.wait_for_selector(f"h1:has-text('{title}')")
        await self.settle()
        self.stats.lat["nav"].append(time.perf_counter() - t)
        self.stats.actions["nav"] += 1
        self.where = where

    async def page_errors(self, what: str) -> None:
        """Streamlit exception elements and error alerts on the page, as errors."""
        pg = self.page
        for sel in ("[data-testid='stException']", "[data-testid='stAlertContentError']"):
            loc = pg.locator(sel)
            for k in range(await loc.count()):
                self.stats.error(
                    self.i, f"{what} {sel.split('=')[1][1:-2]}", _short(await loc.nth(k).inner_text())
                )

    async def search(self) -> None:
        await self.nav("Search by text", "search")
        box = self.page.get_by_label(BOX)
        q = QUERIES[self.q % len(QUERIES)]
        self.q += 1
        if await box.input_value() == q:  # Enter on an unchanged query starts no run
            q = QUERIES[self.q % len(QUERIES)]
            self.q += 1
        await box.fill(q)
        t = time.perf_counter()
        await box.press("Enter")
        await self.settle()
        await self.page.locator(
            f"{MAIN} [data-testid='stDataFrame'], {MAIN} [data-testid='stAlert']"
        ).first.wait_for()
        self.stats.lat["search"].append(time.perf_counter() - t)
        self.stats.actions["search"] += 1
        if await self.page.locator(f"{MAIN} [data-testid='stDataFrame']").count() == 0:
            self.stats.no_results += 1
        await self.page_errors("search")

    async def upload(self) -> None:
        await self.nav("Upload crystals", "upload")
        pg, i, n = self.page, self.i, self.uploads
        self.uploads += 1
        name = f"s{i}_{n}.cif"
        path = self.work / name
        path.write_text(_cif(i, n))
        t = time.perf_counter()
        await pg.locator("input[type='file']").first.set_input_files(str(path))
        await pg.locator(f"{MAIN} h3", has_text=name).first.wait_for()
        await self.settle()
        self.stats.lat["upload"].append(time.perf_counter() - t)
        self.stats.actions["upload"] += 1
        path.unlink(missing_ok=True)
        await self.page_errors("upload")
        # isolation: the page lists this session's files only
        shown = UPLOAD_NAME.findall((await pg.locator(MAIN).inner_text()).replace("\u200b", ""))
        self.stats.checks["upload"] += 1
        if (str(i), str(n)) not in shown:
            self.stats.error(i, "upload", f"{name} is not listed on its Upload page")
        others = sorted({f"s{j}_{m}.cif" for j, m in shown if int(j) != i})
        if others:
            self.stats.violation(i, f"Upload page shows other sessions' files {others[:5]}")
        # keep only the newest upload stored (what a user clearing old files does; bounds the page)
        remove = pg.get_by_role("button", name="Remove", exact=True)
        while await remove.count() > 1:
            await remove.first.click()
            await self.settle()

    async def build(self) -> None:
        await self.nav("Corpus indexes", "corpus")
        from helpers import tiny_csv

        pg, i = self.page, self.i
        csv = self.work / f"sess{i}.csv"
        csv.write_text(tiny_csv(3))
        # the page's settings are one form: typing and choosing the file start no run (nothing to
        # wait for); the button stays disabled while the file uploads, and the click sends it all
        await pg.get_by_label("Index name").fill(f"sess{i}")
        await pg.locator("input[type='file']").first.set_input_files(str(csv))
        # as a user sees it: the file's chip, uploaded (a click before the upload has begun
        # submits the form without it: "choose a CSV file first")
        await pg.locator(f"{MAIN} [data-testid='stFileChip']", has_text=f"sess{i}.csv").first.wait_for()
        await pg.locator(f"{MAIN} [data-testid='stFileChipIconSpinner']").first.wait_for(state="detached")
        t = time.perf_counter()
        await pg.get_by_role("button", name="Build index").click()
        # the build's end: its success line, or the page's own error (which is then reported,
        # instead of a 180 s wait for a line that cannot come)
        failed = pg.locator(f"{MAIN} [data-testid='stAlertContentError']", has_text="Could not build")
        await pg.get_by_text("now selected in the sidebar", exact=False).or_(failed).first.wait_for()
        await self.settle()
        if await failed.count():
            raise RuntimeError(_short(await failed.first.inner_text()))
        self.stats.lat["build"].append(time.perf_counter() - t)
        self.stats.actions["build"] += 1
        self.built = True
        await self.page_errors("build")

    async def check_indexes(self) -> None:
        """Isolation: the sidebar's index selector lists this session's index (once built) and no
        other session's. Opens the list and closes it with Escape (no run starts)."""
        pg, i = self.page, self.i
        sel = pg.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first
        await sel.get_by_role("button", name="Open").click()  # the combobox's arrow: every option
        opts = pg.locator("[role='listbox'] [role='option']")
        await opts.first.wait_for()
        labels = [" ".join(x.split()) for x in await opts.all_inner_texts()]
        await pg.keyboard.press("Escape")
        await opts.first.wait_for(state="detached")
        self.stats.checks["index"] += 1
        others = sorted({lab for lab in labels for j in OWN_INDEX.findall(lab) if int(j) != i})
        if others:
            self.stats.violation(i, f"sidebar lists other sessions' indexes {others[:5]}")
        if self.built and f"yours: sess{i}" not in labels:
            self.stats.violation(i, f"sidebar lacks its own index sess{i}: {labels[:8]}")

    async def step(self, what: str, fn) -> bool:
        """Run one step; on a failure record it and reload (a new Streamlit session)."""
        try:
            await fn()
            return True
        except Exception as exc:  # a timeout, a missing element, a closed page …
            self.stats.error(self.i, f"{what} {type(exc).__name__}", _short(exc))
        for _ in range(3):
            try:
                self.stats.reloads += 1
                await self.open("search")
                return False
            except Exception as exc:
                self.stats.error(self.i, f"reload {type(exc).__name__}", _short(exc))
                await asyncio.sleep(5)
        raise RuntimeError(f"session {self.i} could not reload")

    async def run(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            for _ in range(SEARCHES_PER_ROUND):
                if time.perf_counter() >= deadline:
                    return
                await self.step("search", self.search)
            if time.perf_counter() >= deadline:
                return
            await self.step("upload", self.upload)
            if not self.built and time.perf_counter() < deadline:
                await self.step("build", self.build)
            await self.step("index_check", self.check_indexes)


def _rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` and its children, in MB (psutil, else /proc)."""
    try:
        import psutil

        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
        total = 0
        for q in procs:
            try:
                total += q.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20
    except ImportError:
        pass
    except Exception:
        return None
    pids, total = [pid], 0
    while pids:
        q = pids.pop()
        try:
            for line in Path(f"/proc/{q}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{q}/task").iterdir():
                kids = (task / "children").read_text().split() if (task / "children").exists() else []
                pids.extend(int(k) for k in kids)
        except OSError:
            continue
    return total / 2**20 if total else None


class Sampler(threading.Thread):
    def __init__(self, pid: int, every_s: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self.t0 = time.perf_counter()

    def run(self) -> None:
        while True:
            mb = _rss_mb(self.pid)
            if mb is not None:
                self.samples.append((round(time.perf_counter() - self.t0, 1), round(mb, 1)))
            if self.stop.wait(self.every_s):
                mb = _rss_mb(self.pid)
                if mb is not None:
                    self.samples.append((round(time.perf_counter() - self.t0, 1), round(mb, 1)))
                return


async def _drive(a, url: str, work: Path, stats: Stats, out: dict, sampler_start) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[*ARGS, "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                  "--disable-backgrounding-occluded-windows"],
        )  # fmt: skip
        sessions = [Session(i, browser, url, work, stats, a.timeout) for i in range(a.sessions)]
        t = time.perf_counter()

        async def first(s: Session) -> None:
            await asyncio.sleep(0.5 * s.i)  # users do not arrive in the same millisecond
            await s.open("search")

        opened = await asyncio.gather(*(first(s) for s in sessions), return_exceptions=True)
        for s, r in zip(sessions, opened, strict=True):
            if isinstance(r, BaseException):
                stats.error(s.i, f"open {type(r).__name__}", _short(r))
        live = [s for s, r in zip(sessions, opened, strict=True) if not isinstance(r, BaseException)]
        out["setup_s"] = round(time.perf_counter() - t, 2)
        out["sessions_opened"] = len(live)
        sampler_start()
        t0 = time.perf_counter()
        deadline = t0 + a.minutes * 60
        runs = [asyncio.create_task(s.run(deadline)) for s in live]
        done, pending = await asyncio.wait(runs, timeout=a.minutes * 60 + a.timeout * 3)
        for task in pending:
            task.cancel()
            stats.error(-1, "session", "still running long after the deadline; cancelled")
        for task in done:
            if task.exception() is not None:
                stats.error(-1, f"session {type(task.exception()).__name__}", _short(task.exception()))
        out["elapsed_s"] = round(time.perf_counter() - t0, 1)
        await browser.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--port", type=int, default=8632)
    ap.add_argument("--checkpoint", help="CLAC_CHECKPOINT for the app (default: the shipped assets)")
    ap.add_argument("--index", help="CLAC_INDEX for the app (default: the shipped assets)")
    ap.add_argument("--tiny", action="store_true", help="run the app on the tests' tiny checkpoint + index")
    ap.add_argument(
        "--timeout", type=float, default=180.0, help="seconds one wait may take before it is an error"
    )
    ap.add_argument("--sample-s", type=float, default=5.0, help="seconds between two RSS samples")
    a = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="clac_bench_conc_"))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", CLAC_USER_INDEXES=str(work / "user"))
    env.pop("CLAC_CORPUS_ROOT", None)
    if a.tiny:
        from helpers import build_tiny_assets

        ck, ix = build_tiny_assets(work)
        env["CLAC_CHECKPOINT"], env["CLAC_INDEX"] = str(ck), str(ix)
    if a.checkpoint:
        env["CLAC_CHECKPOINT"] = a.checkpoint
    if a.index:
        env["CLAC_INDEX"] = a.index
    (work / "files").mkdir()
    url = f"http://127.0.0.1:{a.port}"
    out: dict[str, object] = {
        "sessions": a.sessions,
        "minutes": a.minutes,
        "tiny": a.tiny,
        "cpu_count": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
    log_path = work / "streamlit.log"
    log = open(log_path, "w")
    proc = start_app(a.port, env, log)
    stats = Stats()
    sampler = Sampler(proc.pid, a.sample_s)

    def sampler_start() -> None:
        sampler.t0 = time.perf_counter()
        sampler.start()

    try:
        if not wait_healthy(url, proc, 120):
            raise SystemExit("streamlit did not start: " + log_path.read_text()[-2000:])
        asyncio.run(_drive(a, url, work / "files", stats, out, sampler_start))
    finally:
        sampler.stop.set()
        if sampler.is_alive():
            sampler.join(10)
        stop_app(proc)
        log.close()

    out["actions"] = stats.actions
    out["latency_s"] = {
        k: ({"n": len(v), "p50": round(statistics.median(v), 3), "p95": round(_pct(v, 0.95), 3),
             "max": round(max(v), 3)} if v else {"n": 0})
        for k, v in stats.lat.items()
    }  # fmt: skip
    out["searches_without_results"] = stats.no_results
    out["errors"] = {"count": len(stats.errors), "first": stats.errors[:40]}
    out["reloads"] = stats.reloads
    out["isolation_checks"] = stats.checks
    out["isolation_violations"] = {"count": len(stats.violations), "first": stats.violations[:8]}
    server_log = log_path.read_text(errors="replace")
    out["server_log_tracebacks"] = server_log.count("Traceback")
    if out["server_log_tracebacks"]:
        out["server_log_tail"] = server_log[-1500:]
    s = sampler.samples
    out["rss_mb"] = [list(x) for x in s]
    at1 = next((mb for t, mb in s if t >= 60), None)
    after = [mb for t, mb in s if t >= 60]
    out["rss_mb_at_1min"] = at1
    out["rss_mb_max_after_1min"] = max(after) if after else None
    out["rss_growth_after_1min"] = round(max(after) / at1 - 1, 3) if after and at1 else None
    out["rss_growth_end"] = round(s[-1][1] / at1 - 1, 3) if after and at1 else None  # last sample / 1 min
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
