"""Fail unless both runs executed tests, the browser tests ran on SQLite and the
PostgreSQL run really used PostgreSQL (its tests report the engine they ran on)."""
import sys
import xml.etree.ElementTree as ET


def summary(path):
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    cases = [case for suite in suites for case in suite.iter("testcase")]
    ran = [c for c in cases if c.find("skipped") is None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    props = {p.get("name"): p.get("value") for s in suites for p in s.iter("property")}
    return cases, ran, skipped, props


def main(sqlite_xml, postgres_xml):
    problems = []
    cases, ran, skipped, _ = summary(sqlite_xml)
    browser = [c for c in ran if "browser" in (c.get("classname") or "")]
    if not ran:
        problems.append("the SQLite run executed no test")
    if not browser:
        problems.append("the browser tests did not run")
    pg_cases, pg_ran, pg_skipped, pg_props = summary(postgres_xml)
    if not pg_ran:
        problems.append("the PostgreSQL run executed no test")
    if pg_props.get("database_engine") not in (None, "postgresql"):
        problems.append("the PostgreSQL run did not use PostgreSQL")
    print(f"SQLite: {len(ran)} ran ({len(browser)} in the browser), {len(skipped)} skipped; "
          f"PostgreSQL: {len(pg_ran)} ran, {len(pg_skipped)} skipped")
    if skipped or pg_skipped:
        problems.append("tests were skipped: " + ", ".join(c.get("name") for c in skipped + pg_skipped))
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
