"""Runs TaskPulse's ClickHouse SQL on chDB, a current in-process ClickHouse.

The store's SQL must run on ClickHouse 18.16 and on current releases (see
DESIGN.md, section 6). The store's tests run it on 18.16 and capture every
statement the store sent; this script runs the same statements, and every
migration file (base and tuning), on chDB, and exits 1 if any fails.

Usage: chdb_check.py MIGRATIONS_DIR CAPTURE_FILE [DASHBOARD_FILE]

CAPTURE_FILE holds one JSON string per line, as the store's tests write it
when TASKPULSE_SQL_CAPTURE is set. Statements ON CLUSTER, which the store
sends on a ClickHouse cluster, are only parsed (EXPLAIN AST): chDB has no
cluster and no ZooKeeper to run them on.

DASHBOARD_FILE is what the Grafana dashboards' tests write when
TASKPULSE_DASHBOARD_SQL is set: the generated data set they ran on, and
every panel's SQL with the variables and macros expanded, with the columns
it returned on 18.16. The data set is loaded into a database of its own,
and each query must return rows with the same columns here.
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


ON_CLUSTER = re.compile(r"\sON\s+CLUSTER\s", re.IGNORECASE)


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
        if ON_CLUSTER.search(sql):
            sql = "EXPLAIN AST " + sql
        try:
            self.sess.query(sql)
            self.passed += 1
        except Exception as e:  # chDB raises its own error types per version.
            self.failed += 1
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
            print(f"FAIL {label}: {first_line}\n  {sql[:500]}", file=sys.stderr)


def check_dashboards(sess, migration_files, dashboard_file):
    """Loads the dashboards' data set into a database of its own and runs
    their queries on it. Returns (passed, failed, rows loaded)."""
    check = json.loads(dashboard_file.read_text())
    sess.query("CREATE DATABASE IF NOT EXISTS taskpulse_dashboards")
    sess.query("USE taskpulse_dashboards")
    for f in migration_files:
        for stmt in statements(f.read_text()):
            sess.query(stmt)
    loaded = 0
    # The materialized views fill the other tables from these, as on the
    # server; a table's rows go in one insert.
    for table, rows in check["tables"].items():
        if rows:
            body = "\n".join(json.dumps(r) for r in rows)
            sess.query(f"INSERT INTO {table} FORMAT JSONEachRow\n{body}")
            loaded += len(rows)
    passed = failed = 0
    for q in check["queries"]:
        try:
            res = json.loads(sess.query(q["sql"], "JSON").bytes())
            columns = [c["name"] for c in res["meta"]]
            if not res["data"]:
                raise ValueError("no rows")
            if columns != q["columns"]:
                raise ValueError(f"columns {columns}, on 18.16 {q['columns']}")
            passed += 1
        except Exception as e:  # chDB raises its own error types per version.
            failed += 1
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
            print(f"FAIL dashboard {q['name']}: {first_line}\n  {q['sql'][:500]}", file=sys.stderr)
    return passed, failed, loaded


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    migrations_dir = pathlib.Path(sys.argv[1])
    capture_file = pathlib.Path(sys.argv[2])
    dashboard_file = pathlib.Path(sys.argv[3]) if len(sys.argv) == 4 else None

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

        dashboards_failed = 0
        if dashboard_file is not None:
            passed, dashboards_failed, loaded = check_dashboards(sess, files, dashboard_file)
            print(
                f"chDB {version}: dashboards {passed}/{passed + dashboards_failed} queries passed "
                f"on a data set of {loaded} rows"
            )

        print(
            f"chDB {version}: migrations {migrations.passed}/{migrations.passed + migrations.failed} statements passed "
            f"({len(files)} files); captured {captured.passed}/{captured.passed + captured.failed} statements passed "
            f"({inserts} batch inserts checked by their column lists)"
        )
        return 1 if migrations.failed or captured.failed or dashboards_failed else 0


if __name__ == "__main__":
    sys.exit(main())
