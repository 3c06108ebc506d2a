#!/usr/bin/env python3
"""Writes grafana/dashboards/*.json: the dashboards as code.

    python3 grafana/generate.py           # write the files
    python3 grafana/generate.py --check   # exit 1 if the files differ from what this writes

Every time series panel reads the tier that fits the range (docs/storage.md): raw rows up
to 2 days, hourly rollups up to 90 days, daily rollups beyond. Counters are turned into
rates over Grafana's interval (the increase in the interval over the time it covers, per
series, then summed), never lifetime totals. Every dashboard has a `server` variable and,
where PostgreSQL's databases matter, a multi-value `database` one.

The test suite checks the output against Grafana's published dashboard schema
(`@grafana/schema`) and runs every query, macros and variables expanded the way Grafana
expands them, as the read-only role on data from a real agent run
(apps/agent/tests/grafana.rs). Standard library only.
"""

import json
import sys
from pathlib import Path

DS = {"type": "grafana-postgresql-datasource", "uid": "pganalytics"}
OUT = Path(__file__).resolve().parent / "dashboards"

RAW_MAX = "interval '2 days'"
HOURLY_MAX = "interval '90 days'"
RANGE = "($__timeTo()::timestamptz - $__timeFrom()::timestamptz)"
GAP = 3600  # seconds: a longer gap between two readings counts no increase (as the rollups)

SERVER_VAR = {
    "name": "server",
    "label": "Server",
    "type": "query",
    "datasource": DS,
    "query": "SELECT s.id AS __value, c.name || ' / ' || s.instance AS __text "
    "FROM servers s JOIN collectors c ON c.id = s.collector_id ORDER BY 2",
    "refresh": 1,
    "includeAll": False,
    "multi": False,
    "sort": 1,
}
DATABASE_VAR = {
    "name": "database",
    "label": "Database",
    "type": "query",
    "datasource": DS,
    "query": "SELECT DISTINCT datname FROM metrics.pg_database "
    "WHERE server_id = $server AND time > now() - interval '7 days' ORDER BY 1",
    "refresh": 2,
    "includeAll": True,
    "multi": True,
    "sort": 1,
}


# --- values -----------------------------------------------------------------------------
# A value is computed per series and time bucket (`inner`, one expression for raw rows and
# one for rollup rows), then combined across the series of a legend entry (`outer`).


class V:
    def __init__(self, raw, rollup, counters=()):
        self.raw, self.rollup, self.counters = raw, rollup, tuple(counters)


def rate(c):
    """Per-second rate of counter `c` over the bucket."""
    return V(
        f"sum(d_{c}) FILTER (WHERE dt <= {GAP}) / NULLIF(sum(dt) FILTER (WHERE dt <= {GAP} AND d_{c} IS NOT NULL), 0)",
        f"sum({c}_increase) / NULLIF(sum(seconds), 0)",
        [c],
    )


def increase(c):
    """The counter's increase within the bucket."""
    return V(f"sum(d_{c}) FILTER (WHERE dt <= {GAP})", f"sum({c}_increase)", [c])


def avg(g):
    return V(f"avg({g})", f"sum({g}_sum) / NULLIF(sum({g}_count), 0)")


def peak(g):
    return V(f"max({g})", f"max({g}_max)")


def low(g):
    return V(f"min({g})", f"min({g}_min)")


def count_rows():
    return V("count(*)", "sum(samples)")


# --- SQL ----------------------------------------------------------------------------------


def db_filter(has_db):
    return " AND datname IN ($database)" if has_db else ""


def tiered(family, series, inner, outer, metric=None, where="", has_db=False, tiers=True):
    """A time series query over the tier that fits the range.

    family  the metric family (metrics.<family>, metrics_hourly.<family>, …)
    series  the label columns that identify one series (counter deltas are taken along it)
    inner   {alias: V}: per series and bucket
    outer   [(legend, SQL over the aliases)]: combined per bucket (and `metric`)
    metric  an SQL expression over the series labels naming the legend entry, or None
    where   extra conditions on the labels (both tiers)
    """
    counters = sorted({c for v in inner.values() for c in v.counters})
    labels = ", ".join(series)
    part = labels or "server_id"
    deltas = "".join(
        f",\n         CASE WHEN {c} >= lag({c}) OVER w THEN {c} - lag({c}) OVER w ELSE {c} END AS d_{c}"
        for c in counters
    )
    cond = f"server_id = $server{db_filter(has_db)}{(' AND ' + where) if where else ''}"
    sel_labels = (labels + ", ") if labels else ""
    grp_labels = (", " + labels) if labels else ""
    raw_inner = ", ".join(f"{v.raw} AS {a}" for a, v in inner.items())
    roll_inner = ", ".join(f"{v.rollup} AS {a}" for a, v in inner.items())
    branches = [
        f"""  SELECT $__timeGroup(time, $__interval) AS grp_time, {sel_labels}{raw_inner}
  FROM r WHERE $__timeFilter(time)
  GROUP BY 1{grp_labels}"""
    ]
    if tiers:
        branches.append(
            f"""  SELECT $__timeGroup(bucket, $__interval) AS grp_time, {sel_labels}{roll_inner}
  FROM metrics_hourly.{family}
  WHERE {cond} AND $__timeFilter(bucket) AND {RANGE} > {RAW_MAX} AND {RANGE} <= {HOURLY_MAX}
  GROUP BY 1{grp_labels}"""
        )
        branches.append(
            f"""  SELECT $__timeGroup(bucket, $__interval) AS grp_time, {sel_labels}{roll_inner}
  FROM metrics_daily.{family}
  WHERE {cond} AND $__timeFilter(bucket) AND {RANGE} > {HOURLY_MAX}
  GROUP BY 1{grp_labels}"""
        )
    raw_range = f" AND {RANGE} <= {RAW_MAX}" if tiers else ""
    union = "\n  UNION ALL\n".join(branches)
    outs = ", ".join(f'{expr} AS "{name}"' for name, expr in outer)
    m = f", {metric} AS metric" if metric else ""
    group = "1, 2" if metric else "1"
    return f"""WITH r AS (
  SELECT f.*{deltas},
         extract(epoch FROM time - lag(time) OVER w) AS dt
  FROM metrics.{family} f
  WHERE {cond}
    AND time BETWEEN $__timeFrom()::timestamptz - interval '1 hour' AND $__timeTo()::timestamptz{raw_range}
  WINDOW w AS (PARTITION BY {part} ORDER BY time)
), s AS (
{union}
)
SELECT grp_time AS "time"{m}, {outs}
FROM s GROUP BY {group} ORDER BY 1"""


def latest(family, keys, columns, where="", has_db=False, order="", limit=20):
    """The latest reading of each series in the range (raw rows), as a table."""
    cond = f"server_id = $server{db_filter(has_db)}{(' AND ' + where) if where else ''}"
    return f"""SELECT {columns}
FROM (SELECT DISTINCT ON ({keys}) *
      FROM metrics.{family}
      WHERE {cond} AND time BETWEEN greatest($__timeFrom()::timestamptz, $__timeTo()::timestamptz - interval '1 day') AND $__timeTo()::timestamptz
      ORDER BY {keys}, time DESC) latest
{('ORDER BY ' + order) if order else ''} LIMIT {limit}"""


# --- panels -------------------------------------------------------------------------------


class Board:
    def __init__(self, uid, title, description, tags, database=True):
        self.uid, self.title, self.description, self.tags = uid, title, description, tags
        self.database = database
        self.panels = []
        self.x = self.y = 0
        self.row_h = 0

    def _place(self, w, h):
        if self.x + w > 24:
            self.x, self.y = 0, self.y + self.row_h
            self.row_h = 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def add(self, kind, title, sql, description, unit=None, w=12, h=8, options=None, fmt=None, decimals=None, stack=False):
        defaults = {}
        if unit:
            defaults["unit"] = unit
        if decimals is not None:
            defaults["decimals"] = decimals
        if kind == "timeseries":
            defaults["custom"] = {"fillOpacity": 10, "showPoints": "never", "spanNulls": False}
            if stack:
                defaults["custom"]["stacking"] = {"mode": "normal", "group": "A"}
        panel = {
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options or {},
            "targets": [
                {
                    "refId": "A",
                    "datasource": DS,
                    "editorMode": "code",
                    "rawQuery": True,
                    "format": fmt or ("table" if kind in ("table", "stat", "bargauge") else "time_series"),
                    "rawSql": sql,
                }
            ],
        }
        self.panels.append(panel)

    def ts(self, title, sql, description, unit=None, **kw):
        self.add("timeseries", title, sql, description, unit, **kw)

    def table(self, title, sql, description, w=24, h=8, **kw):
        self.add("table", title, sql, description, w=w, h=h, options={"showHeader": True}, **kw)

    def stat(self, title, sql, description, unit=None, w=6, h=4, **kw):
        self.add(
            "stat", title, sql, description, unit, w=w, h=h,
            options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value"},
            **kw,
        )

    def json(self):
        variables = [SERVER_VAR] + ([DATABASE_VAR] if self.database else [])
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["pganalytics"] + self.tags,
            "timezone": "browser",
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": 39,
            "version": 1,
            "refresh": "1m",
            "time": {"from": "now-6h", "to": "now"},
            "links": [
                {
                    "title": "pgAnalytics",
                    "type": "dashboards",
                    "tags": ["pganalytics"],
                    "asDropdown": True,
                    "includeVars": True,
                    "keepTime": True,
                    "icon": "external link",
                    "targetBlank": False,
                    "tooltip": "",
                    "url": "",
                }
            ],
            "templating": {"list": variables},
            "annotations": {"list": []},
            "panels": self.panels,
        }


def per_db(family, inner, outer, **kw):
    return tiered(family, ["datname"], inner, outer, metric="datname", has_db=True, **kw)


ACTIVITY_SERIES = ["datname", "state", "wait_event_type"]
LOG_SERIES = ["severity", "category", "sqlstate", "datname", "username", "application_name", "kind"]


def top10(family, key, order):
    """A condition keeping the ten `key`s of the selected databases highest by `order` in the range
    (not the "(other)" row of a large catalog: the relations not sent in detail, summed)."""
    return (f"{key} IN (SELECT {key} FROM metrics.{family} WHERE server_id = $server AND datname IN ($database) "
            f"AND {key} <> '(other)' "
            f"AND $__timeFilter(time) GROUP BY {key} ORDER BY {order} DESC NULLS LAST LIMIT 10)")


# Panels on more than one dashboard.


def cache_hit_panel(b):
    b.ts("Cache hit ratio", per_db("pg_database",
         {"hit": rate("blks_hit"), "rd": rate("blks_read")},
         [("value", "100.0 * sum(hit) / NULLIF(sum(hit) + sum(rd), 0)")]),
         "Buffer hits against all block requests in each interval (not since the statistics reset).", "percent")


def sessions_by_state_panel(b):
    b.ts("Sessions by state", tiered("pg_activity", ACTIVITY_SERIES,
         {"n": avg("sessions")}, [("value", "sum(n)")], metric="coalesce(state, 'background')", has_db=True),
         "Sessions of the selected databases by state.", "short", stack=True)


def database_size_panel(b):
    b.ts("Database size", per_db("pg_database", {"v": avg("size_bytes")}, [("value", "sum(v)")]),
         "Size of each database.", "bytes")


# --- the dashboards -----------------------------------------------------------------------


def overview():
    b = Board("pganalytics-overview", "pgAnalytics — PostgreSQL overview",
              "One server at a glance: throughput, cache, sessions, sizes, wraparound, host and errors.",
              ["overview"])
    b.stat("Connections used", latest("pg_server", "server_id",
           "100.0 * connections / NULLIF(max_connections - reserved_connections, 0) AS value"),
           "Client sessions against max_connections less the reserved slots (latest reading).", "percent", decimals=1)
    b.stat("Database size", latest("pg_database", "datname", "sum(size_bytes) AS value", has_db=True),
           "The selected databases' total size (latest reading).", "bytes")
    b.stat("Oldest transaction ID age", latest("pg_database", "datname", "max(datfrozenxid_age) AS value", has_db=True),
           "age(datfrozenxid) of the oldest selected database: wraparound protection starts at autovacuum_freeze_max_age.", "short")
    b.stat("Errors in the range", """SELECT count(*) AS value FROM metrics.pg_log_event
WHERE server_id = $server AND $__timeFilter(time) AND severity IN ('ERROR', 'FATAL', 'PANIC')""",
           "ERROR, FATAL and PANIC lines of the server log in the range.", "short")
    b.ts("Transactions per second", per_db("pg_database",
         {"c": rate("xact_commit"), "r": rate("xact_rollback")},
         [("commits", "sum(c)"), ("rollbacks", "sum(r)")]),
         "Commits and rollbacks per second, per database, over the panel's interval.", "ops")
    cache_hit_panel(b)
    sessions_by_state_panel(b)
    database_size_panel(b)
    b.ts("Rows per second", per_db("pg_database",
         {"f": rate("tup_fetched"), "i": rate("tup_inserted"), "u": rate("tup_updated"), "d": rate("tup_deleted")},
         [("fetched", "sum(f)"), ("inserted", "sum(i)"), ("updated", "sum(u)"), ("deleted", "sum(d)")]),
         "Rows fetched, inserted, updated and deleted per second.", "rowsps")
    b.ts("Deadlocks, conflicts and temporary files", per_db("pg_database",
         {"dl": increase("deadlocks"), "cf": increase("conflicts"), "tf": increase("temp_files")},
         [("deadlocks", "sum(dl)"), ("conflicts", "sum(cf)"), ("temp files", "sum(tf)")]),
         "Counted per interval.", "short")
    b.ts("Host load", tiered("sys_load", [], {"l1": avg("load1"), "c": avg("cpus")},
         [("load 1 min", "sum(l1)"), ("CPUs", "sum(c)")]),
         "The host's 1-minute load average against its CPU count.", "short")
    b.ts("Disk space used", tiered("disk_usage", ["mountpoint"],
         {"u": avg("used_bytes"), "t": avg("total_bytes")}, [("value", "100.0 * sum(u) / NULLIF(sum(t), 0)")],
         metric="mountpoint"), "Used space of each file system.", "percent")
    return b


def performance():
    b = Board("pganalytics-performance", "pgAnalytics — Performance analysis",
              "Where the time goes: top statements, their latency, cache hits and I/O waits.",
              ["performance", "statements"])
    b.table("Top statements by total time", """WITH s AS (
  SELECT datname, queryid, sum(calls) AS calls, sum(exec_time_ms) AS total_ms, sum(rows) AS rows,
         sum(shared_blks_hit) AS hit, sum(shared_blks_read) AS rd, sum(temp_blks_written) AS temp_blks
  FROM metrics.pg_statement
  WHERE server_id = $server AND datname IN ($database) AND $__timeFilter(time)
  GROUP BY 1, 2
)
SELECT s.datname, s.queryid, left(t.query, 200) AS query, s.calls, round(s.total_ms::numeric, 1) AS total_ms,
       round((s.total_ms / NULLIF(s.calls, 0))::numeric, 3) AS mean_ms, s.rows,
       round((100.0 * s.hit / NULLIF(s.hit + s.rd, 0))::numeric, 1) AS hit_pct, s.temp_blks
FROM s LEFT JOIN LATERAL (
  SELECT query FROM metrics.pg_statement_text x
  WHERE x.server_id = $server AND x.datname = s.datname AND x.queryid = s.queryid
  ORDER BY time DESC LIMIT 1) t ON true
ORDER BY s.total_ms DESC NULLS LAST LIMIT 25""",
            "pg_stat_statements in the range: calls, time, rows, cache hits and temporary blocks, with the normalised text.", h=10)
    st = ["datname", "username", "queryid"]
    b.ts("Statement time per second", tiered("pg_statement", st,
         {"e": V("sum(exec_time_ms) / NULLIF(sum(interval_seconds), 0)",
                 "sum(exec_time_ms_sum) / NULLIF(sum(interval_seconds_sum), 0)")},
         [("value", "sum(e)")], metric="datname", has_db=True),
         "Milliseconds of execution per second of wall time (the top statements the agent sends): how many backends were busy running statements.", "ms")
    b.ts("Calls per second", tiered("pg_statement", st,
         {"c": V("sum(calls) / NULLIF(sum(interval_seconds), 0)",
                 "sum(calls_sum) / NULLIF(sum(interval_seconds_sum), 0)")},
         [("value", "sum(c)")], metric="datname", has_db=True),
         "Statement executions per second (the top statements the agent sends).", "ops")
    b.ts("Mean statement latency", per_db("pg_statement",
         {"e": V("sum(exec_time_ms)", "sum(exec_time_ms_sum)"), "c": V("sum(calls)", "sum(calls_sum)")},
         [("value", "sum(e) / NULLIF(sum(c), 0)")]),
         "Execution time over calls in each interval.", "ms")
    b.ts("Latency quantiles from the log", tiered("pg_statement_latency", ["datname", "query_id"],
         {"p50": peak("p50_ms"), "p95": peak("p95_ms"), "p99": peak("p99_ms")},
         [("p50 (worst statement)", "max(p50)"), ("p95 (worst statement)", "max(p95)"), ("p99 (worst statement)", "max(p99)")],
         has_db=True),
         "The log's duration lines (log_min_duration_statement): the worst statement's quantiles per interval.", "ms")
    cache_hit_panel(b)
    b.ts("Time reading and writing blocks", per_db("pg_database",
         {"r": rate("blk_read_time_us"), "w": rate("blk_write_time_us")},
         [("read", "sum(r) / 1000.0"), ("write", "sum(w) / 1000.0")]),
         "Milliseconds per second spent in block I/O (track_io_timing).", "ms")
    b.ts("Temporary bytes per second", per_db("pg_database", {"t": rate("temp_bytes")}, [("value", "sum(t)")]),
         "Sorts and hashes that spilled to disk.", "Bps")
    return b


def system():
    b = Board("pganalytics-system", "pgAnalytics — System health",
              "The database host: CPU, load, memory, disks, network and pressure.", ["system", "host"], database=False)
    modes = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
    cpu = {f"m_{m}": rate(f"{m}_ms") for m in modes}
    total = " + ".join(f"sum(m_{m})" for m in modes)
    b.ts("CPU", tiered("sys_cpu", ["cpu"], cpu,
         [(m, f"100.0 * sum(m_{m}) / NULLIF({total}, 0)") for m in ["user", "system", "iowait", "steal"]],
         where="cpu = 'all'"),
         "Share of CPU time by mode, all CPUs together.", "percent", stack=True)
    b.ts("Load", tiered("sys_load", [], {"l1": avg("load1"), "l5": avg("load5"), "l15": avg("load15"), "c": avg("cpus")},
         [("1 min", "sum(l1)"), ("5 min", "sum(l5)"), ("15 min", "sum(l15)"), ("CPUs", "sum(c)")]),
         "Load averages against the CPU count.", "short")
    b.ts("Memory", tiered("sys_memory", [],
         {"t": avg("total_bytes"), "a": avg("available_bytes"), "c": avg("cached_bytes"), "st": avg("swap_total_bytes"), "sf": avg("swap_free_bytes")},
         [("used", "sum(t) - sum(a)"), ("cached", "sum(c)"), ("swap used", "sum(st) - sum(sf)")]),
         "Used (total less available), page cache and swap.", "bytes")
    b.ts("Disk throughput", tiered("sys_disk_io", ["device"],
         {"r": rate("sectors_read"), "w": rate("sectors_written")},
         [("read", "sum(r) * 512"), ("written", "-sum(w) * 512")], metric="device"),
         "Bytes per second read (up) and written (down) per device.", "Bps")
    b.ts("Disk operations", tiered("sys_disk_io", ["device"],
         {"r": rate("reads_completed"), "w": rate("writes_completed")},
         [("reads", "sum(r)"), ("writes", "sum(w)")], metric="device"),
         "Completed reads and writes per second.", "iops")
    b.ts("Disk busy", tiered("sys_disk_io", ["device"], {"b": rate("io_time_ms")},
         [("value", "sum(b) / 10.0")], metric="device"),
         "Share of time each device had I/O in flight.", "percent")
    b.ts("Network", tiered("sys_network", ["interface"],
         {"rx": rate("rx_bytes"), "tx": rate("tx_bytes")},
         [("received", "sum(rx)"), ("sent", "-sum(tx)")], metric="interface"),
         "Bytes per second per interface.", "Bps")
    b.ts("Pressure (PSI)", tiered("sys_pressure", ["resource"], {"s": avg("some_avg10")},
         [("value", "sum(s)")], metric="resource"),
         "Share of time some task waited for CPU, memory or I/O (10-second average).", "percent")
    return b


def replication():
    b = Board("pganalytics-replication", "pgAnalytics — Replication",
              "Standbys, their lag, replication slots and WAL generation.", ["replication"], database=False)
    b.ts("Replay lag (bytes)", tiered("pg_replication", ["application_name", "client_addr"],
         {"v": peak("replay_lag_bytes")}, [("value", "max(v)")], metric="coalesce(application_name, client_addr)"),
         "How far each standby's replay is behind this primary's WAL position.", "bytes")
    b.ts("Replication lag (time)", tiered("pg_replication", ["application_name", "client_addr"],
         {"w": peak("write_lag_seconds"), "f": peak("flush_lag_seconds"), "r": peak("replay_lag_seconds")},
         [("write", "max(w)"), ("flush", "max(f)"), ("replay", "max(r)")], metric="coalesce(application_name, client_addr)"),
         "write_lag, flush_lag and replay_lag of pg_stat_replication.", "s")
    b.table("Standbys", latest("pg_replication", "application_name, client_addr",
            "application_name, client_addr, state, sync_state, sent_lag_bytes, replay_lag_bytes, replay_lag_seconds, time",
            order="replay_lag_bytes DESC NULLS LAST"),
            "The latest reading of each standby.")
    b.ts("Replication slots: retained WAL", tiered("pg_replication_slot", ["slot_name", "slot_type", "datname"],
         {"v": peak("retained_wal_bytes")}, [("value", "max(v)")], metric="slot_name"),
         "WAL kept for each slot: an inactive slot makes this grow until the disk fills.", "bytes")
    b.table("Replication slots", latest("pg_replication_slot", "slot_name",
            "slot_name, slot_type, datname, active, wal_status, retained_wal_bytes, safe_wal_size_bytes, time",
            order="retained_wal_bytes DESC NULLS LAST"),
            "The latest reading of each slot.", w=12)
    b.ts("WAL generated", tiered("pg_wal", [], {"b": rate("wal_bytes")}, [("value", "sum(b)")]),
         "Bytes of WAL written per second on this server (pg_stat_wal).", "Bps", w=12)
    b.ts("Standby: WAL receiver lag", tiered("pg_wal_receiver", ["sender_host"],
         {"b": peak("received_lag_bytes"), "s": peak("replay_lag_seconds")},
         [("received, not replayed", "max(b)"), ("replay delay (s)", "max(s)")], metric="sender_host"),
         "On a standby: received WAL not yet replayed, and the replay delay.", "bytes")
    b.ts("Standby: last message from the primary", tiered("pg_wal_receiver", ["sender_host"],
         {"a": peak("last_message_age_seconds")}, [("value", "max(a)")], metric="sender_host"),
         "Seconds since the WAL receiver last heard from its primary.", "s")
    return b


def disk():
    b = Board("pganalytics-disk", "pgAnalytics — Disk usage trends",
              "File systems, databases and tables over time, and when space runs out.", ["disk", "capacity"])
    b.ts("File system space used", tiered("disk_usage", ["mountpoint"],
         {"u": avg("used_bytes"), "t": avg("total_bytes")}, [("value", "100.0 * sum(u) / NULLIF(sum(t), 0)")],
         metric="mountpoint"), "Used space per file system.", "percent")
    b.ts("File system space available", tiered("disk_usage", ["mountpoint"],
         {"a": low("available_bytes")}, [("value", "min(a)")], metric="mountpoint"),
         "Available space per file system (the lowest in each interval).", "bytes")
    b.table("Days until full", """WITH d AS (
  SELECT mountpoint, role, time, available_bytes, total_bytes
  FROM metrics.disk_usage
  WHERE server_id = $server AND $__timeFilter(time)
)
SELECT mountpoint, max(role) AS role,
       round((100.0 * (1 - min(available_bytes) FILTER (WHERE time = last) / NULLIF(max(total_bytes), 0)))::numeric, 1) AS used_pct,
       round((regr_slope(available_bytes, extract(epoch FROM time)) * -86400)::numeric) AS bytes_per_day,
       CASE WHEN regr_slope(available_bytes, extract(epoch FROM time)) < 0
            THEN round((min(available_bytes) FILTER (WHERE time = last) / (regr_slope(available_bytes, extract(epoch FROM time)) * -86400))::numeric, 1)
       END AS days_until_full
FROM (SELECT *, max(time) OVER (PARTITION BY mountpoint) AS last FROM d) x
GROUP BY mountpoint ORDER BY days_until_full NULLS LAST, used_pct DESC""",
            "A least-squares line through the available space over the range: how fast it shrinks, and when it reaches zero.")
    b.ts("Inodes used", tiered("disk_usage", ["mountpoint"],
         {"u": avg("inodes_used"), "t": avg("inodes_total")}, [("value", "100.0 * sum(u) / NULLIF(sum(t), 0)")],
         metric="mountpoint"), "Used inodes per file system.", "percent")
    database_size_panel(b)
    b.table("Largest tables", latest("pg_table", "datname, schemaname, relname",
            "datname, schemaname, relname, table_size_bytes, indexes_size_bytes, toast_size_bytes, "
            "table_size_bytes + coalesce(indexes_size_bytes, 0) + coalesce(toast_size_bytes, 0) AS total_bytes, n_live_tup, "
            "relations, partitions",
            has_db=True, order="total_bytes DESC NULLS LAST"),
            "The latest sizes of the largest tables (heap, indexes, TOAST); a partitioned table is one row with its "
            "partitions summed, and (other) sums the tables a large catalog did not send in detail.")
    b.ts("Largest tables over time", tiered("pg_table", ["datname", "schemaname", "relname"],
         {"t": avg("table_size_bytes"), "i": avg("indexes_size_bytes")},
         [("value", "sum(t) + coalesce(sum(i), 0)")], metric="schemaname || '.' || relname", has_db=True,
         where=top10("pg_table", "relname", "max(table_size_bytes)")),
         "Heap and index size of the ten largest tables.", "bytes", w=24)
    return b


def tables():
    b = Board("pganalytics-tables", "pgAnalytics — Tables and indexes",
              "How tables are read and written, sequential scans, unused indexes and heap cache hits.", ["tables", "indexes"])
    t = ["datname", "schemaname", "relname"]
    name = "schemaname || '.' || relname"
    def top(c):
        return top10("pg_table", "relname", f"max({c}) - min({c})")

    b.ts("Sequential scans per second (top 10)", tiered("pg_table", t, {"s": rate("seq_scan")}, [("value", "sum(s)")],
         metric=name, has_db=True, where=top("seq_scan")),
         "Tables scanned sequentially most often in the range.", "ops")
    b.ts("Rows read by sequential scans (top 10)", tiered("pg_table", t, {"s": rate("seq_tup_read")}, [("value", "sum(s)")],
         metric=name, has_db=True, where=top("seq_tup_read")),
         "Rows read by sequential scans per second: a missing index shows here.", "rowsps")
    b.ts("Rows written per second (top 10)", tiered("pg_table", t,
         {"i": rate("n_tup_ins"), "u": rate("n_tup_upd"), "d": rate("n_tup_del")},
         [("value", "sum(i) + sum(u) + sum(d)")], metric=name, has_db=True, where=top("n_tup_ins + n_tup_upd + n_tup_del")),
         "Inserted, updated and deleted rows per second.", "rowsps")
    b.ts("Index scans per second (top 10)", tiered("pg_table", t, {"s": rate("idx_scan")}, [("value", "sum(s)")],
         metric=name, has_db=True, where=top("idx_scan")),
         "Index scans per table.", "ops")
    b.table("Tables: scans and writes in the range", """SELECT datname, schemaname, relname,
       max(seq_scan) - min(seq_scan) AS seq_scans, max(seq_tup_read) - min(seq_tup_read) AS seq_rows_read,
       max(idx_scan) - min(idx_scan) AS idx_scans,
       max(n_tup_ins + n_tup_upd + n_tup_del) - min(n_tup_ins + n_tup_upd + n_tup_del) AS rows_written,
       round((100.0 * (max(n_tup_hot_upd) - min(n_tup_hot_upd)) / NULLIF(max(n_tup_upd) - min(n_tup_upd), 0))::numeric, 1) AS hot_update_pct,
       round((100.0 * (max(heap_blks_hit) - min(heap_blks_hit))
              / NULLIF(max(heap_blks_hit) - min(heap_blks_hit) + max(heap_blks_read) - min(heap_blks_read), 0))::numeric, 1) AS heap_hit_pct
FROM metrics.pg_table
WHERE server_id = $server AND datname IN ($database) AND $__timeFilter(time)
GROUP BY 1, 2, 3
ORDER BY seq_rows_read DESC NULLS LAST LIMIT 25""",
            "What happened to each table in the range (counter increases; a reset inside the range undercounts).")
    b.table("Unused indexes", """SELECT datname, schemaname, relname, indexrelname,
       max(size_bytes) AS size_bytes, max(idx_scan) - min(idx_scan) AS scans_in_range, bool_or(is_unique > 0) AS is_unique
FROM metrics.pg_index
WHERE server_id = $server AND datname IN ($database) AND $__timeFilter(time) AND indexrelname <> '(other)'
GROUP BY 1, 2, 3, 4
HAVING max(idx_scan) - min(idx_scan) = 0
ORDER BY size_bytes DESC NULLS LAST LIMIT 25""",
            "Indexes not scanned once in the range, largest first (unique indexes enforce constraints: keep them).", w=12)
    b.table("Invalid indexes", latest("pg_index", "datname, schemaname, relname, indexrelname",
            "datname, schemaname, relname, indexrelname, size_bytes, is_valid, time",
            where="indexrelname <> '(other)'", has_db=True, order="is_valid, size_bytes DESC NULLS LAST"),
            "Indexes by validity (0: a failed CREATE INDEX CONCURRENTLY left it behind), the invalid first.", w=12)
    b.ts("Index sizes (top 10)", tiered("pg_index", ["datname", "schemaname", "relname", "indexrelname"],
         {"s": avg("size_bytes")}, [("value", "sum(s)")], metric="indexrelname", has_db=True,
         where=top10("pg_index", "indexrelname", "max(size_bytes)")),
         "The ten largest indexes.", "bytes", w=24)
    return b


def sessions():
    b = Board("pganalytics-sessions", "pgAnalytics — Sessions, locks and wait events",
              "Who is connected, what they wait for, and who blocks whom.", ["sessions", "locks"])
    sessions_by_state_panel(b)
    b.ts("Sessions by wait event type", tiered("pg_activity", ACTIVITY_SERIES,
         {"n": avg("sessions")}, [("value", "sum(n)")], metric="coalesce(wait_event_type, 'running (no wait)')",
         has_db=True), "What sessions were waiting on (Lock, LWLock, IO, Client, …).", "short", stack=True)
    b.ts("Connections against the limit", tiered("pg_server", [],
         {"c": avg("connections"), "m": avg("max_connections"), "r": avg("reserved_connections")},
         [("client sessions", "sum(c)"), ("available to clients", "sum(m) - sum(r)")]),
         "Client sessions and the slots max_connections leaves them.", "short")
    b.ts("Blocked sessions", tiered("pg_activity", ACTIVITY_SERIES,
         {"b": peak("blocked_sessions")}, [("value", "sum(b)")], metric="datname", has_db=True),
         "Sessions waiting for a lock another session holds.", "short")
    b.ts("Longest transaction, query and idle in transaction", tiered("pg_activity", ACTIVITY_SERIES,
         {"x": peak("longest_xact_seconds"), "q": peak("longest_query_seconds"), "i": peak("longest_idle_in_xact_seconds")},
         [("transaction", "max(x)"), ("query", "max(q)"), ("idle in transaction", "max(i)")], has_db=True),
         "The oldest open transaction holds back vacuum; idle in transaction holds its locks.", "s")
    b.ts("Locks held by mode", tiered("pg_lock", ["datname", "locktype", "mode"],
         {"g": avg("granted")}, [("value", "sum(g)")], metric="mode", has_db=True),
         "Granted locks by mode.", "short", stack=True)
    b.ts("Locks waited for", tiered("pg_lock", ["datname", "locktype", "mode"],
         {"w": peak("waiting")}, [("value", "sum(w)")], metric="locktype || ' ' || mode", has_db=True),
         "Lock requests not granted, by lock type and mode.", "short")
    b.table("Lock waits in the log", """SELECT time, datname, username, kind, lock_mode, lock_object, relation, pids, duration_ms, message
FROM metrics.pg_log_event
WHERE server_id = $server AND $__timeFilter(time) AND category = 'lock'
ORDER BY time DESC LIMIT 50""",
            "Lock waits and deadlocks the server logged (log_lock_waits), with the holders' pids.")
    return b


def vacuum():
    b = Board("pganalytics-vacuum", "pgAnalytics — Vacuum and wraparound",
              "Transaction ID age against the freeze limits, dead tuples, and what autovacuum did.", ["vacuum", "wraparound"])
    b.ts("Transaction ID age (share of the freeze limit)", """WITH lim AS (
  SELECT max(autovacuum_freeze_max_age) AS freeze, max(autovacuum_multixact_freeze_max_age) AS mxfreeze
  FROM metrics.pg_server WHERE server_id = $server AND time > $__timeFrom()::timestamptz - interval '1 day'
)
SELECT $__timeGroup(time, $__interval) AS "time", datname AS metric,
       max(100.0 * datfrozenxid_age / NULLIF(lim.freeze, 0)) AS "xid age",
       max(100.0 * datminmxid_age / NULLIF(lim.mxfreeze, 0)) AS "multixact age"
FROM metrics.pg_database, lim
WHERE server_id = $server AND datname IN ($database) AND $__timeFilter(time)
GROUP BY 1, 2 ORDER BY 1""",
         "age(datfrozenxid) and mxid_age(datminmxid) against autovacuum_freeze_max_age: at 100 % anti-wraparound vacuums start; near 2 billion the server stops writes.",
         "percent")
    b.ts("Transaction ID age", per_db("pg_database", {"x": peak("datfrozenxid_age")}, [("value", "max(x)")]),
         "age(datfrozenxid) of each database.", "short")
    b.table("Oldest tables (relfrozenxid)", latest("pg_table", "datname, schemaname, relname",
            "datname, schemaname, relname, relfrozenxid_age, n_dead_tup, last_autovacuum, last_vacuum, table_size_bytes",
            has_db=True, order="relfrozenxid_age DESC NULLS LAST"),
            "The tables the next anti-wraparound vacuums will be for.", w=12)
    b.table("Most dead tuples", latest("pg_table", "datname, schemaname, relname",
            "datname, schemaname, relname, n_live_tup, n_dead_tup, "
            "round((100.0 * n_dead_tup / NULLIF(n_live_tup + n_dead_tup, 0))::numeric, 1) AS dead_pct, "
            "n_mod_since_analyze, last_autovacuum, last_autoanalyze",
            has_db=True, order="n_dead_tup DESC NULLS LAST"),
            "Dead tuples waiting for vacuum (latest reading).", w=12)
    b.ts("Dead tuples", tiered("pg_table", ["datname", "schemaname", "relname"],
         {"d": avg("n_dead_tup")}, [("value", "sum(d)")], metric="datname", has_db=True),
         "Dead tuples of all tables, per database.", "short")
    b.ts("Vacuums and analyzes", tiered("pg_table", ["datname", "schemaname", "relname"],
         {"av": increase("autovacuum_count"), "v": increase("vacuum_count"), "aa": increase("autoanalyze_count"), "a": increase("analyze_count")},
         [("autovacuum", "sum(av)"), ("vacuum", "sum(v)"), ("autoanalyze", "sum(aa)"), ("analyze", "sum(a)")], has_db=True),
         "Vacuums and analyzes run in each interval, all tables.", "short")
    b.ts("Vacuums in progress", tiered("pg_vacuum_progress", ["datname", "relname", "phase"],
         {"d": peak("duration_seconds"), "s": V("max(100.0 * heap_blks_scanned / NULLIF(heap_blks_total, 0))",
                                                 "max(100.0 * heap_blks_scanned_max / NULLIF(heap_blks_total_max, 0))")},
         [("running for (s)", "max(d)"), ("heap scanned (%)", "max(s)")], metric="relname", has_db=True),
         "pg_stat_progress_vacuum: how long each vacuum has run and how far it is.", "short")
    b.table("Autovacuum reports in the log", """SELECT time, datname, relation, pages_removed, tuples_removed, tuples_frozen, wal_bytes,
       io_read_ms, io_write_ms, duration_ms
FROM metrics.pg_log_event
WHERE server_id = $server AND $__timeFilter(time) AND kind IN ('autovacuum', 'autoanalyze')
ORDER BY time DESC LIMIT 50""",
            "What each logged autovacuum did (log_autovacuum_min_duration).")
    return b


def wal():
    b = Board("pganalytics-wal", "pgAnalytics — WAL, checkpoints and I/O",
              "WAL generation, checkpoints, who writes buffers, and I/O by backend type.", ["wal", "checkpoints", "io"], database=False)
    b.ts("WAL per second", tiered("pg_wal", [], {"b": rate("wal_bytes")}, [("bytes", "sum(b)")]),
         "WAL bytes written per second (pg_stat_wal).", "Bps")
    b.ts("WAL records and full-page images", tiered("pg_wal", [], {"r": rate("wal_records"), "f": rate("wal_fpi")},
         [("records", "sum(r)"), ("full-page images", "sum(f)")]),
         "Many full-page images right after each checkpoint are normal; all the time, checkpoints come too often.", "ops")
    b.ts("Checkpoints", tiered("pg_bgwriter", [], {"t": increase("checkpoints_timed"), "q": increase("checkpoints_req")},
         [("timed", "sum(t)"), ("requested", "sum(q)")]),
         "Checkpoints per interval: requested ones mean max_wal_size is reached before checkpoint_timeout.", "short")
    b.ts("Checkpoint write and sync time", tiered("pg_bgwriter", [],
         {"w": rate("checkpoint_write_time_us"), "s": rate("checkpoint_sync_time_us")},
         [("write", "sum(w) / 1000.0"), ("sync", "sum(s) / 1000.0")]),
         "Milliseconds per second the checkpointer spent writing and syncing.", "ms")
    b.ts("Buffers written", tiered("pg_bgwriter", [],
         {"c": rate("buffers_checkpoint"), "b": rate("buffers_clean"), "k": rate("buffers_backend")},
         [("checkpointer", "sum(c)"), ("background writer", "sum(b)"), ("backends", "sum(k)")]),
         "Buffers written per second, by who wrote them: backends writing their own is a sign of pressure.", "ops", stack=True)
    b.ts("I/O by backend type (PostgreSQL 16+)", tiered("pg_io", ["backend_type", "object", "context"],
         {"r": rate("reads"), "w": rate("writes"), "e": rate("extends")},
         [("reads", "sum(r)"), ("writes", "sum(w)"), ("extends", "sum(e)")], metric="backend_type"),
         "pg_stat_io: operations per second by backend type.", "ops")
    b.ts("WAL archiving", tiered("pg_archiver", [], {"a": increase("archived_count"), "f": increase("failed_count")},
         [("archived", "sum(a)"), ("failed", "sum(f)")]),
         "WAL files archived and archive attempts that failed, per interval.", "short")
    b.table("Checkpoints in the log", """SELECT time, kind, buffers, write_ms, sync_ms, distance_kb, message
FROM metrics.pg_log_event
WHERE server_id = $server AND $__timeFilter(time) AND category = 'checkpoint'
ORDER BY time DESC LIMIT 50""",
            "What each logged checkpoint wrote and how long it took (log_checkpoints).")
    return b


def logs():
    b = Board("pganalytics-logs", "pgAnalytics — Log events",
              "The server log as events: severities, categories, kinds, slow statements and errors.", ["logs"])
    b.ts("Events by severity", tiered("pg_log_event", LOG_SERIES,
         {"n": count_rows()}, [("value", "sum(n)")], metric="severity"),
         "Log events per interval by severity.", "short", stack=True)
    b.ts("Events by category", tiered("pg_log_event", LOG_SERIES,
         {"n": count_rows()}, [("value", "sum(n)")], metric="coalesce(category, 'other')"),
         "Log events per interval by category (docs/log-events.md).", "short", stack=True)
    b.table("Kinds in the range", """SELECT kind, category, max(severity) AS severity, count(*) AS events, max(time) AS last_seen,
       (array_agg(message ORDER BY time DESC))[1] AS example
FROM metrics.pg_log_event
WHERE server_id = $server AND $__timeFilter(time)
GROUP BY 1, 2 ORDER BY events DESC LIMIT 30""",
            "Each kind of event with its count and latest message.", w=24)
    b.table("Errors", """SELECT time, severity, sqlstate, kind, datname, username, application_name, message
FROM metrics.pg_log_event
WHERE server_id = $server AND $__timeFilter(time) AND severity IN ('ERROR', 'FATAL', 'PANIC')
  AND (datname IS NULL OR datname IN ($database))
ORDER BY time DESC LIMIT 100""",
            "ERROR, FATAL and PANIC events, newest first.")
    b.ts("Slow statements (from duration lines)", tiered("pg_log_event",
         LOG_SERIES,
         {"d": peak("duration_ms"), "n": count_rows()}, [("longest", "max(d)")], metric="datname",
         where="kind IN ('duration', 'slow_statement')", has_db=True),
         "The longest statement per interval that log_min_duration_statement logged.", "ms")
    b.ts("Temporary files", tiered("pg_log_event", LOG_SERIES,
         {"n": count_rows()}, [("value", "sum(n)")], metric="datname", where="kind = 'temp_file'", has_db=True),
         "Temporary files logged per interval (log_temp_files).", "short")
    b.table("Connections refused and authentication failures", """SELECT time, kind, datname, username, auth_method, message
FROM metrics.pg_log_event
WHERE server_id = $server AND $__timeFilter(time) AND category = 'connection' AND severity IN ('FATAL', 'ERROR')
ORDER BY time DESC LIMIT 50""",
            "Failed logins, refused connections and too many clients.", w=24)
    return b


def alerts():
    b = Board("pganalytics-alerts", "pgAnalytics — Alerts",
              "pgAnalytics' own alerts: what fires now, what changed, and what was notified.", ["alerts"], database=False)
    b.stat("Firing", """SELECT count(*) AS value FROM alerts
WHERE phase = 'firing' AND (server_id = $server OR server_id IS NULL)""",
           "Alerts firing now on this server (and fleet-wide ones).", "short")
    b.stat("Pending", """SELECT count(*) AS value FROM alerts
WHERE phase = 'pending' AND (server_id = $server OR server_id IS NULL)""",
           "Conditions met, waiting for their `for`.", "short")
    b.stat("Changes in the range", """SELECT count(*) AS value FROM alert_transitions t
JOIN alerts a ON a.fingerprint = t.fingerprint
WHERE $__timeFilter(t.at) AND (a.server_id = $server OR a.server_id IS NULL)""",
           "Alert transitions (firing, escalated, repeated, acknowledged, resolved) in the range.", "short")
    b.stat("Notifications failing", """SELECT count(*) AS value FROM notification_deliveries
WHERE status <> 'delivered' AND attempts > 0""",
           "Notifications not delivered after at least one attempt (all servers).", "short")
    b.table("Alerts now", """SELECT a.rule, a.phase, a.severity, a.changed_at AS since, a.state->>'summary' AS summary,
       a.state->'labels' AS labels
FROM alerts a
WHERE (a.server_id = $server OR a.server_id IS NULL) AND a.phase <> 'resolved'
ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, a.changed_at DESC LIMIT 100""",
            "Pending and firing alerts, the most severe first.", h=9)
    b.ts("Transitions", """SELECT $__timeGroup(t.at, $__interval) AS "time", t.body->>'kind' AS metric, count(*) AS value
FROM alert_transitions t JOIN alerts a ON a.fingerprint = t.fingerprint
WHERE $__timeFilter(t.at) AND (a.server_id = $server OR a.server_id IS NULL)
GROUP BY 1, 2 ORDER BY 1""",
         "Alerts firing and resolving per interval.", "short", stack=True)
    b.ts("Notifications", """SELECT $__timeGroup(created_at, $__interval) AS "time", status AS metric, count(*) AS value
FROM notification_deliveries
WHERE $__timeFilter(created_at)
GROUP BY 1, 2 ORDER BY 1""",
         "Notifications queued per interval, by their status now (all servers).", "short", stack=True)
    b.table("Rules with the most changes", """SELECT a.rule, count(*) AS transitions, max(t.at) AS last_change,
       count(*) FILTER (WHERE t.body->>'kind' = 'firing') AS fired
FROM alert_transitions t JOIN alerts a ON a.fingerprint = t.fingerprint
WHERE $__timeFilter(t.at) AND (a.server_id = $server OR a.server_id IS NULL)
GROUP BY 1 ORDER BY transitions DESC LIMIT 20""",
            "Noisy rules: those that change most often want a longer `for` or another threshold.")
    return b


def agent():
    b = Board("pganalytics-agent", "pgAnalytics — Agent health",
              "The agent on the server's host: collectors, spool, delivery and its own footprint.", ["agent"], database=False)
    b.table("Collector", """SELECT c.name, c.hostname, c.agent_version, c.status, c.registered_at, c.last_seen,
       round(extract(epoch FROM now() - c.last_seen)::numeric) AS seconds_since_seen, s.instance, s.last_seen AS last_reading
FROM servers s JOIN collectors c ON c.id = s.collector_id
WHERE s.id = $server""",
            "The agent that reports this server: when it was last heard from.", h=5)
    b.ts("Collection time", tiered("agent", ["collector"], {"d": peak("duration_ms")}, [("value", "max(d)")], metric="collector"),
         "The longest run of each collector per interval.", "ms")
    b.ts("Rows collected", tiered("agent", ["collector"], {"r": avg("rows")}, [("value", "sum(r)")], metric="collector"),
         "Rows each collector returns per run.", "short")
    b.ts("Errors and skipped ticks", tiered("agent", ["collector"], {"e": increase("errors"), "s": increase("skipped_ticks")},
         [("errors", "sum(e)"), ("skipped ticks", "sum(s)")]),
         "Collector errors and cycles skipped because the previous one was still running, per interval.", "short")
    b.ts("Spool", tiered("agent", ["collector"], {"b": peak("spool_bytes"), "n": peak("spool_records")},
         [("bytes", "max(b)"), ("batches", "max(n)")]),
         "Batches waiting for delivery: grows while the server is unreachable.", "short")
    b.ts("Delivery problems", tiered("agent", ["collector"],
         {"r": increase("retries"), "d": increase("dropped_records"), "x": increase("dead_letters"), "m": increase("damaged_records")},
         [("retries", "sum(r)"), ("dropped (spool full)", "sum(d)"), ("dead letters", "sum(x)"), ("damaged", "sum(m)")]),
         "Retries, and batches lost to a full spool, refused for good or damaged on disk, per interval.", "short")
    b.ts("Agent memory", tiered("agent", ["collector"], {"m": peak("rss_bytes")}, [("value", "max(m)")]),
         "Resident memory of the agent process.", "bytes")
    return b


BOARDS = [overview, performance, system, replication, disk, tables, sessions, vacuum, wal, logs, alerts, agent]


def render():
    out = {}
    for make in BOARDS:
        board = make()
        out[f"{board.uid.removeprefix('pganalytics-')}.json"] = json.dumps(board.json(), indent=2) + "\n"
    return out


def main():
    files = render()
    if "--check" in sys.argv:
        stale = [n for n, text in files.items() if not (OUT / n).exists() or (OUT / n).read_text() != text]
        extra = [p.name for p in OUT.glob("*.json") if p.name not in files]
        if stale or extra:
            print(f"grafana/dashboards differ from grafana/generate.py: {stale + extra}; run python3 grafana/generate.py")
            sys.exit(1)
        return
    OUT.mkdir(exist_ok=True)
    for p in OUT.glob("*.json"):
        if p.name not in files:
            p.unlink()
    for name, text in files.items():
        (OUT / name).write_text(text)
    print(f"{len(files)} dashboards written to {OUT}")


if __name__ == "__main__":
    main()
