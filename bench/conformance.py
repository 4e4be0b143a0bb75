"""The drivers' own specification tests against the embedded database: its yardstick.

    .venv/bin/python bench/conformance.py                  # every suite below, ~20 min
    .venv/bin/python bench/conformance.py --suites test_crud_unified.py
    make conformance

Fetches the source distribution of the installed PyMongo (its test suite ships
in it: the unified CRUD, transactions, retryable writes, sessions and change
stream tests, and more) into ``~/.cache/pialara-async``, starts ``pialara-async
embedded-db`` on a data directory of its own, runs the chosen suites against it
with PyMongo's own pytest configuration, and prints passed/failed/skipped per
suite and the most common causes of failure. Skips are the suites' own
(sharded clusters, server versions, auth).

``conformance-expected-failures.txt`` beside this script lists the tests known
to fail, each with its reason (docs/embedded.md tells the deviations). A test
that fails and is not listed is a regression: the script exits 1. A listed test
that passes is an improvement: it is printed, to be taken off the list
(``--write-expected`` rewrites the list from this run, keeping the reasons).
"""

from __future__ import annotations

import argparse
import collections
import importlib.metadata
import os
import re
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

EXPECTED = Path(__file__).with_name("conformance-expected-failures.txt")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pialara-async"
SUITES = [
    "test_crud_unified.py", "test_transactions_unified.py",
    "test_retryable_writes_unified.py", "test_retryable_reads_unified.py",
    "test_sessions_unified.py", "test_change_stream.py", "test_collection_management.py",
    "test_collection.py", "test_cursor.py", "test_index_management.py",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def driver_tests() -> Path:
    """PyMongo's test tree, from the sdist of the installed version."""
    version = importlib.metadata.version("pymongo")
    tree = CACHE / f"pymongo-{version}"
    if not (tree / "test" / "asynchronous").is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as download:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--no-binary", ":all:", f"pymongo=={version}", "-d", download],
                           check=True)
            archive = next(Path(download).glob("pymongo-*.tar.gz"))
            with tarfile.open(archive) as sdist:
                sdist.extractall(CACHE, filter="data")
    return tree


def failure_cause(text: str) -> str:
    """One line saying why a test failed, with ids and numbers blurred."""
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("E ")]
    line = lines[-1][2:].strip() if lines else (text.strip().splitlines() or ["?"])[-1]
    line = re.sub(r"full error: .*", "", line)
    line = re.sub(r"ObjectId\('[0-9a-f]+'\)", "ObjectId(…)", line)
    line = re.sub(r"\b\d{3,}\b", "N", line)
    return line[:160]


def test_id(case: ElementTree.Element) -> tuple[str, str]:
    """``(suite, path::Class::test)`` of a junit test case."""
    parts = (case.get("classname") or "?").split(".")
    at = next((n for n, part in enumerate(parts) if part.startswith("test_")), 0)
    path = "/".join(parts[:at + 1]) + ".py"
    return parts[at], "::".join([path, *parts[at + 1:], case.get("name") or "?"])


def read_expected() -> dict[str, str]:
    """Known failures: test id -> reason."""
    expected = {}
    for line in EXPECTED.read_text().splitlines() if EXPECTED.exists() else ():
        test, _, reason = line.partition("  # ")
        if test.strip() and not test.startswith("#"):
            expected[test.strip()] = reason.strip()
    return expected


def summarise(report: Path, write_expected: bool) -> int:
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    causes: collections.Counter[str] = collections.Counter()
    failed: dict[str, str] = {}
    passed: set[str] = set()
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        suite, test = test_id(case)
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                cause = failure_cause((child.get("message") or "") + "\n" + (child.text or ""))
                causes[cause] += 1
                failed[test] = cause
            elif child.tag == "skipped":
                outcome = "skipped"
        if outcome == "passed":
            passed.add(test)
        counts[suite][outcome] += 1
    total: collections.Counter[str] = collections.Counter()
    print(f"\n{'suite':<36}{'passed':>8}{'failed':>8}{'skipped':>9}  (skipped: by the suite's "
          "own requirements, or expected to fail there)")
    for suite, outcome in sorted(counts.items()):
        total.update(outcome)
        print(f"{suite:<36}{outcome['passed']:>8}{outcome['failed']:>8}"
              f"{outcome['skipped']:>9}")
    print(f"{'all':<36}{total['passed']:>8}{total['failed']:>8}{total['skipped']:>9}")
    ran = total["passed"] + total["failed"]
    print(f"{100 * total['passed'] / max(ran, 1):.1f} % of the tests that ran passed")
    print("\nmost common causes of failure:")
    for cause, number in causes.most_common(25):
        print(f"{number:>6}  {cause}")
    expected = read_expected()
    regressions = sorted(set(failed) - set(expected))
    improvements = sorted(set(expected) & passed)
    if write_expected:
        lines = [f"{test}  # {expected.get(test) or failed[test]}" for test in sorted(failed)]
        EXPECTED.write_text("# PyMongo specification tests known to fail on the embedded "
                            "server: test  # reason\n" + "\n".join(lines) + "\n")
        print(f"\n{EXPECTED.name}: {len(lines)} tests written")
        return 0
    print(f"\nregressions (failing, not in {EXPECTED.name}): {len(regressions)}")
    for test in regressions:
        print(f"   {test}  # {failed[test]}")
    print(f"now passing (take them off {EXPECTED.name}): {len(improvements)}")
    for test in improvements:
        print(f"   {test}")
    return 1 if regressions else 0


def main(args: argparse.Namespace) -> None:
    tree = driver_tests()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pialara-conformance-") as data:
        server = subprocess.Popen(
            [sys.executable, "-m", "pialara_async", "embedded-db", "--port", str(port),
             "--data-dir", str(Path(data) / "db")],
            stdout=subprocess.DEVNULL, stderr=open(Path(data) / "server.log", "w"))  # noqa: SIM115
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.2)
            report = Path(data) / "report.xml"
            paths = [f"test/asynchronous/{suite}" for suite in args.suites]
            started = time.monotonic()
            transcript = CACHE / "conformance.log"
            print(f"pytest's output: {transcript}", flush=True)
            with transcript.open("w") as output:
                subprocess.run(
                    [sys.executable, "-m", "pytest", *paths, "-v", "-p", "no:cacheprovider",
                     f"--junitxml={report}", "-o", "log_cli_level=WARNING",
                     "-o", "junit_family=xunit1", "--timeout", str(args.timeout)],
                    cwd=tree, env={**os.environ, "DB_IP": "127.0.0.1", "DB_PORT": str(port)},
                    stdout=output, stderr=subprocess.STDOUT, check=False)
            print(f"PyMongo {tree.name.split('-')[1]} specification tests against "
                  f"pialara-async embedded-db: {time.monotonic() - started:.0f} s")
            status = summarise(report, args.write_expected)
        finally:
            server.terminate()
            server.wait(30)
    sys.exit(status)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", nargs="+", default=SUITES,
                        help="files of PyMongo's test/asynchronous")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per test")
    parser.add_argument("--write-expected", action="store_true",
                        help=f"rewrite {EXPECTED.name} from this run's failures")
    main(parser.parse_args())
