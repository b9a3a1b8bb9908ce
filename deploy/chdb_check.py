"""Runs TaskPulse's ClickHouse SQL on chDB, a current in-process ClickHouse.

The store's SQL must run on ClickHouse 18.16 and on current releases (see
DESIGN.md, section 6). The store's tests run it on 18.16 and capture every
statement the store sent; this script runs the same statements, and every
migration file (base and tuning), on chDB, and exits 1 if any fails.

Usage: chdb_check.py MIGRATIONS_DIR CAPTURE_FILE

CAPTURE_FILE holds one JSON string per line, as the store's tests write it
when TASKPULSE_SQL_CAPTURE is set.
"""

import json
import pathlib
import re
import sys
import tempfile

from chdb import session

# The store inserts through the native batch API, so the captured statement
# is only the head of an insert ("INSERT INTO t (a, b) FORMAT Native") and
# the rows travel as blocks. chDB cannot be sent those blocks, so the check
# selects the named columns instead, which fails the same way a wrong column
# list would.
NATIVE_INSERT = re.compile(
    r"^\s*INSERT\s+INTO\s+(\w+)\s*\(([^)]*)\)\s*(?:FORMAT\s+Native|VALUES)\s*$",
    re.IGNORECASE | re.DOTALL,
)


def statements(sql):
    """Splits a migration file the way the store does: a statement ends with
    a semicolon at the end of a line, and comment lines are dropped."""
    out, current = [], []
    for line in sql.splitlines():
        stripped = line.strip()
        if stripped.startswith("--") or (not stripped and not current):
            continue
        current.append(line)
        if stripped.endswith(";"):
            out.append("\n".join(current).strip().rstrip(";"))
            current = []
    rest = "\n".join(current).strip()
    if rest:
        out.append(rest)
    return out


class Checker:
    def __init__(self, sess):
        self.sess = sess
        self.passed = 0
        self.failed = 0

    def run(self, label, sql):
        try:
            self.sess.query(sql)
            self.passed += 1
        except Exception as e:  # chDB raises its own error types per version.
            self.failed += 1
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
            print(f"FAIL {label}: {first_line}\n  {sql[:500]}", file=sys.stderr)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    migrations_dir = pathlib.Path(sys.argv[1])
    capture_file = pathlib.Path(sys.argv[2])

    with tempfile.TemporaryDirectory(prefix="taskpulse-chdb-") as path:
        sess = session.Session(path)
        version = sess.query("SELECT version()", "TSV").bytes().decode().strip()
        sess.query("CREATE DATABASE IF NOT EXISTS taskpulse_check")
        sess.query("USE taskpulse_check")

        migrations = Checker(sess)
        files = sorted(migrations_dir.glob("*.sql"))
        if not files:
            print(f"no migrations in {migrations_dir}", file=sys.stderr)
            return 1
        for f in files:
            for i, stmt in enumerate(statements(f.read_text())):
                migrations.run(f"{f.name} statement {i + 1}", stmt)

        captured = Checker(sess)
        inserts = 0
        lines = [l for l in capture_file.read_text().splitlines() if l.strip()]
        if not lines:
            print(f"{capture_file} holds no statements", file=sys.stderr)
            return 1
        for n, line in enumerate(lines, 1):
            sql = json.loads(line)
            m = NATIVE_INSERT.match(sql)
            if m:
                inserts += 1
                sql = f"SELECT {m.group(2)} FROM {m.group(1)} WHERE 0"
            captured.run(f"{capture_file.name} line {n}", sql)

        print(
            f"chDB {version}: migrations {migrations.passed}/{migrations.passed + migrations.failed} statements passed "
            f"({len(files)} files); captured {captured.passed}/{captured.passed + captured.failed} statements passed "
            f"({inserts} batch inserts checked by their column lists)"
        )
        return 1 if migrations.failed or captured.failed else 0


if __name__ == "__main__":
    sys.exit(main())
