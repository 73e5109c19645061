"""LANGUAGE.md §17 sessions as a source: `{sessions_of: events, gap: D}` and
`{sessions_of: events, id: COLUMN}` in segql.yml, one row per session with time,
ended_at, duration_s, rows, first_<c> / last_<c>; hand-computed at the edges
(a gap of exactly D, equal timestamps, midnight and daylight-saving changes,
null ids, sessions open at as_of or begun before the window, an empty parent),
run on DuckDB (and on BigQuery's ZetaSQL with SEGQL_ALSO_BIGQUERY=1)."""

from __future__ import annotations

import pytest
from helpers import check, compile_sql, members, table

AS_OF = "2024-05-10T12:00:00"
SOURCES = {
    "orders": {"table": "orders", "time": "ordered_at"},
    "events": {"table": "events", "time": "occurred_at"},
}
BY_GAP = {"sources": {**SOURCES, "visits": {"sessions_of": "events", "gap": "30 minutes"}}}
BY_ID = {"sources": {**SOURCES, "visits": {"sessions_of": "events", "id": "sid"}}}

# customer | rows (occurred_at, name, sid, flag)
#  1 | 10:00 a, 10:30 b, 11:00 c           one session (exactly 30 minutes apart each), 3600 s
#  2 | 10:00 a, 10:30:00.000001 b         two sessions (30 minutes and a microsecond)
#  3 | 09:00 "b" and 09:00 "a" (tie), 09:00 null, 09:20 "z" and 09:20 "y" (tie)
#    |   one session: first_name "a" (smallest at the first instant), last_name "z"
#  4 | 11:50 a, 12:10 b (after as_of)     at as_of 12:00: one row, 0 s
#  5 | (no events)
#  6 | 08:00 null name, 08:10 null name   first_name / last_name null
EVENTS = table(
    "customer_id INTEGER, occurred_at TIMESTAMP, name VARCHAR, sid VARCHAR, flag BOOLEAN",
    (1, "2024-05-10 10:00:00", "a", "s1", True),
    (1, "2024-05-10 10:30:00", "b", "s1", False),
    (1, "2024-05-10 11:00:00", "c", "s2", True),
    (2, "2024-05-10 10:00:00", "a", "s1", False),
    (2, "2024-05-10 10:30:00.000001", "b", "s1", True),
    (3, "2024-05-10 09:00:00", "b", None, True),
    (3, "2024-05-10 09:00:00", "a", "x", False),
    (3, "2024-05-10 09:00:00", None, "x", None),
    (3, "2024-05-10 09:20:00", "z", "x", None),
    (3, "2024-05-10 09:20:00", "y", None, None),
    (4, "2024-05-10 11:50:00", "a", "s1", True),
    (4, "2024-05-10 12:10:00", "b", "s1", True),
    (6, "2024-05-10 08:00:00", None, "s1", None),
    (6, "2024-05-10 08:10:00", None, "s1", None),
)
CUSTOMERS = table("customer_id INTEGER", (1,), (2,), (3,), (4,), (5,), (6,))
DATA = {"customers": CUSTOMERS, "events": EVENTS}

GAP_CASES = [
    ("count(visits) = 1", {1, 3, 4, 6}),
    ("count(visits) = 2", {2}),
    ("count(visits) = 0", {5}),  # an empty parent: no sessions, count 0
    ("sum(visits.rows) = 3", {1}),
    ("max(visits.duration_s) = 3600", {1}),
    ("max(visits.duration_s) = 0", {2, 4}),  # lone rows; 4's next row is after as_of
    ("min(visits.duration_s) = 1200", {3}),
    ("max(visits.duration_s) = 600", {6}),
    ("sum(visits.rows) = 5", {3}),  # rows at one instant are all rows of the session
    ("sum(visits.rows) = 1", {4}),  # the row after as_of is never seen
    ('first(visits.first_name) = "a"', {1, 2, 3, 4}),
    ('last(visits.last_name) = "z"', {3}),
    ('last(visits.last_name) = "c"', {1}),
    ('last(visits.last_name) = "b"', {2}),  # 4's "b" is after as_of
    ("last(visits.last_name) is null", {5, 6}),
    ('count(visits where first_name = "a" and last_name = "a") = 1', {2, 4}),
    ("max(visits.ended_at) = 2024-05-10T11:00:00", {1}),
    ("min(visits.time) = 2024-05-10T09:00:00", {3}),
    # booleans: first_flag at a tie is the smallest (false), last_flag the largest
    ("count(visits where first_flag) = 1", {1, 2, 4}),
    ("count(visits where first_flag = false) >= 1", {2, 3}),
    ("count(visits where last_flag) >= 1", {1, 2, 4}),
    ("count(visits where last_flag is null) = 1", {3, 6}),
]


@pytest.mark.parametrize(("cond", "expected"), GAP_CASES)
def test_sessions_by_gap(cond, expected):
    check(cond, DATA, expected, as_of=AS_OF, project_extra=BY_GAP)


ID_CASES = [
    # 1: s1 (2 rows, 1800 s) and s2; 3: x (3 rows; null sids are no session's)
    ("count(visits) = 2", {1}),
    ("count(visits) = 1", {2, 3, 4, 6}),
    ("sum(visits.rows) = 3", {1, 3}),
    ("max(visits.duration_s) = 1800", {1}),  # 2's is 1800.000001
    ("max(visits.duration_s) = 1200", {3}),
    ('count(visits where first_name = "a" and last_name = "z") = 1', {3}),
    ('count(visits where first_sid = "s1" and last_sid = "s1") = 1', {1, 2, 4, 6}),
    ("count(visits) = 0", {5}),
]


@pytest.mark.parametrize(("cond", "expected"), ID_CASES)
def test_sessions_by_id(cond, expected):
    check(cond, DATA, expected, as_of=AS_OF, project_extra=BY_ID)


def test_a_session_belongs_to_the_instant_of_its_first_row():
    """A session begun before the window and going on inside it is not in the
    window; one begun inside is, wherever it ends."""
    events = table(
        "customer_id INTEGER, occurred_at TIMESTAMP, name VARCHAR",
        (1, "2024-05-09 11:50:00", "a"),  # begins a day and 10 minutes before as_of …
        (1, "2024-05-09 12:10:00", "b"),  # … and goes on inside `last 1 day`
        (2, "2024-05-09 12:00:00", "a"),  # begins exactly a day before: outside
        (3, "2024-05-09 12:00:00.000001", "a"),  # a microsecond later: inside
    )
    data = {"customers": CUSTOMERS, "events": events}
    check("count(visits, last 1 day) >= 1", data, {3}, as_of=AS_OF, project_extra=BY_GAP)
    check("count(events, last 1 day) >= 1", data, {1, 3}, as_of=AS_OF, project_extra=BY_GAP)
    check(
        "max(visits.ended_at) > 2024-05-09T12:00:00",
        data,
        {1, 3},
        as_of=AS_OF,
        project_extra=BY_GAP,
    )


def test_sessions_before_the_windows_are_not_made_but_change_nothing():
    """When every read of a sessions source has a window, only the parent's rows
    from its start minus the gap are sessionized (Scans.sessions_floor): a long
    session chained across the start by links of exactly the gap, or one whose
    row before the start is exactly the gap away, is still not in the window;
    a row more than the gap after the last one before the start begins one."""
    # `last 1 day` is after 2024-05-09 12:00:00; the floor 30 minutes before that
    events = table(
        "customer_id INTEGER, occurred_at TIMESTAMP, name VARCHAR",
        # 1: links of exactly the gap, the last one across the window's start
        (1, "2024-05-09 10:30:00.5", "a"),
        (1, "2024-05-09 11:00:00.5", "a"),
        (1, "2024-05-09 11:30:00.5", "a"),
        (1, "2024-05-09 12:00:00.5", "b"),
        (1, "2024-05-09 12:20:00", "b"),
        # 2: a row just over the gap before the next one, which is inside: a new session
        (2, "2024-05-09 11:30:00", "a"),
        (2, "2024-05-09 12:00:00.000001", "b"),
        # 3: a chain from long before, each link exactly the gap, into the window
        *[(3, f"2024-05-09 {h:02d}:{m:02d}:00", "a") for h in range(6, 12) for m in (0, 30)],
        (3, "2024-05-09 12:00:00", "a"),
        (3, "2024-05-09 12:30:00", "b"),
    )
    data = {"customers": CUSTOMERS, "events": events}
    sql, *_ = compile_sql(
        "segment s = count(visits, last 1 day) >= 1", data, as_of=AS_OF, project_extra=BY_GAP
    )
    assert "2024-05-09 11:30:00" in sql  # the floor: the window's start minus 30 minutes
    check("count(visits, last 1 day) >= 1", data, {2}, as_of=AS_OF, project_extra=BY_GAP)
    check(
        'count(visits where first_name = "b", last 1 day) = 1',
        data,
        {2},
        as_of=AS_OF,
        project_extra=BY_GAP,
    )
    # with a read without a window, every row is sessionized: the same sessions
    check(
        "count(visits, last 1 day) >= 1 and count(visits) >= 1",
        data,
        {2},
        as_of=AS_OF,
        project_extra=BY_GAP,
    )
    check("count(visits) = 1", data, {1, 3}, as_of=AS_OF, project_extra=BY_GAP)


def test_a_session_across_midnight_is_on_the_day_it_began():
    """Local midnight in the project time zone (New York, UTC-4 in May): a session
    from 23:50 to 00:10 local is yesterday's."""
    events = table(
        "customer_id INTEGER, occurred_at TIMESTAMP, name VARCHAR",
        (1, "2024-05-10 03:50:00", "a"),  # 23:50 on May 9 in New York
        (1, "2024-05-10 04:10:00", "b"),  # 00:10 on May 10
        (2, "2024-05-10 04:10:00", "a"),
    )
    data = {"customers": CUSTOMERS, "events": events}
    ny = "America/New_York"
    extra = BY_GAP
    check("count(visits, yesterday) = 1", data, {1}, as_of=AS_OF, project_extra=extra, timezone=ny)
    check("count(visits, today) = 1", data, {2}, as_of=AS_OF, project_extra=extra, timezone=ny)
    check(
        "count(visits where duration_s = 1200) = 1",
        data,
        {1},
        as_of=AS_OF,
        project_extra=extra,
        timezone=ny,
    )


def test_the_gap_is_elapsed_time_across_daylight_saving_changes():
    """Instants are absolute: on 2024-03-10 New York's clocks jump from 02:00 to
    03:00, so 01:50 EST and 03:10 EDT are 20 minutes apart (one session of 1200 s);
    on 2024-11-03 they go back, and 01:50 EDT and 01:10 EST are also 20 minutes
    apart, though the second reads earlier on the wall."""
    events = table(
        "customer_id INTEGER, occurred_at TIMESTAMPTZ, name VARCHAR",
        (1, "2024-03-10 01:50:00-05:00", "a"),
        (1, "2024-03-10 03:10:00-04:00", "b"),
        (2, "2024-11-03 01:50:00-04:00", "a"),
        (2, "2024-11-03 01:10:00-05:00", "b"),
        (3, "2024-11-03 01:50:00-04:00", "a"),
        (3, "2024-11-03 01:30:00-05:00", "b"),  # 40 minutes later: two sessions
    )
    data = {"customers": CUSTOMERS, "events": events}
    ny = "America/New_York"
    for cond, expected in [
        ("count(visits) = 1", {1, 2}),
        ("count(visits where duration_s = 1200) = 1", {1, 2}),
        ('count(visits where last_name = "b") = 1', {1, 2, 3}),
        ("count(visits) = 2", {3}),
    ]:
        check(cond, data, expected, as_of="2024-12-01T00:00:00", project_extra=BY_GAP, timezone=ny)


def test_sessions_in_every_kind_of_read():
    """Sequences, sliding counts, count_distinct and order statistics read the
    sessions like any source."""
    events = table(
        "customer_id INTEGER, occurred_at TIMESTAMP, name VARCHAR",
        (1, "2024-05-01 10:00:00", "pricing"),
        (1, "2024-05-01 10:05:00", "docs"),
        (1, "2024-05-01 12:00:00", "home"),
        (1, "2024-05-02 12:00:00", "home"),
        (2, "2024-05-01 10:00:00", "home"),
        (2, "2024-05-01 10:20:00", "pricing"),
        (2, "2024-05-03 10:20:00", "pricing"),
    )
    orders = [
        {"customer_id": 1, "ordered_at": "2024-05-01 13:00:00", "amount": 10.0},
        {"customer_id": 2, "ordered_at": "2024-05-04 13:00:00", "amount": 10.0},
    ]
    data = {"customers": CUSTOMERS, "events": events, "orders": orders}
    cases = [
        ('did(visits where first_name = "pricing" then orders within 1 day)', {1}),
        (
            'did(visits where first_name = "home" then visits where first_name = "home" '
            "within 2 days)",
            {1},
        ),
        ("count(visits, any 1 day) >= 2", {1}),  # 10:00 and 12:00 on May 1
        ("count_distinct(date(visits.time)) = 2", {1, 2}),
        ('mode(visits.last_name) = "home"', {1}),
        ('mode(visits.last_name) = "pricing"', {2}),
        ("median(visits.duration_s) = 0", {1, 2}),  # of 300 0 0 the 2nd smallest; of 1200 0
        ("quantile(visits.duration_s, 100%) = 1200", {2}),
        ('first(visits.last_name) = "docs"', {1}),
        ("decayed_count(visits, 7 days) > 0", {1, 2}),
    ]
    for cond, expected in cases:
        check(cond, data, expected, as_of=AS_OF, project_extra=BY_GAP)


def test_sessions_without_profiles_and_of_an_empty_parent():
    """Without profiles the universe is every key seen in any source, the sessions'
    too; with no events at all there are no sessions."""
    extra = {**BY_GAP, "profiles": None}
    orders = [{"customer_id": 7, "ordered_at": "2024-05-01 13:00:00", "amount": 1.0}]
    check("count(visits) = 0", {"orders": orders}, {7}, as_of=AS_OF, project_extra=extra)
    check("count(visits) = 0", DATA, {5}, as_of=AS_OF, project_extra=BY_GAP)
    got, _ = members("count(visits) >= 1", DATA, as_of=AS_OF, project_extra=extra)
    assert got == {1, 2, 3, 4, 6}


def test_one_sessions_cte_per_source_however_many_reads():
    sql = check(
        "count(visits) >= 1 and median(visits.duration_s) >= 0 and "
        'first(visits.first_name) = "a" and not did(visits then orders within 1 day)',
        DATA,
        {1, 2, 3, 4},
        as_of=AS_OF,
        project_extra=BY_GAP,
    )
    assert sql.count('"sessions_visits" AS (') == 1
    assert sql.count("LAG(") == 1


def _project(tmp_path, yml: str, seg: str):
    (tmp_path / "segql.yml").write_text(yml)
    (tmp_path / "s.seg").write_text(seg)
    return str(tmp_path / "s.seg"), str(tmp_path / "segql.yml")


def test_without_a_database_only_session_columns_are_accepted(tmp_path):
    """Columns unknown (no database, no schema.yml): first_<c> / last_<c> and the
    sessions' own columns are taken on trust, as any column of such a source; a
    name that cannot be a sessions column is an error."""
    import datetime as dt

    import duckdb

    from segql import api
    from segql.errors import SegqlErrors

    yml = (
        "key: customer_id\nsources:\n"
        "  events: {table: events, time: occurred_at, columns: {occurred_at: timestamp}}\n"
        "  visits: {sessions_of: events, gap: 30 minutes}\n"
    )
    seg = 'segment s = count(visits where first_url = "/pricing" and rows >= 2) >= 1\n'
    path, project = _project(tmp_path, yml, seg)
    sql = api.compile([path], project=project, as_of=dt.datetime(2024, 5, 10), segment="s").sql()
    con = duckdb.connect()
    con.execute("CREATE TABLE events (customer_id INTEGER, occurred_at TIMESTAMP, url VARCHAR)")
    con.execute(
        "INSERT INTO events VALUES (1, '2024-05-01 10:00', '/pricing'), "
        "(1, '2024-05-01 10:10', '/docs'), (2, '2024-05-01 10:00', '/pricing')"
    )
    assert [r[0] for r in con.execute(sql).fetchall()] == [1]
    (tmp_path / "s.seg").write_text("segment s = count(visits where url = 1) >= 1\n")
    with pytest.raises(SegqlErrors, match="unknown column 'url' in source 'visits'"):
        api.compile([path], project=project, as_of=dt.datetime(2024, 5, 10))


def test_a_key_named_like_a_session_column_is_an_error(tmp_path):
    import duckdb

    from segql import api
    from segql.errors import SegqlErrors

    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    con.execute('CREATE TABLE events ("rows" INTEGER, occurred_at TIMESTAMP)')
    con.close()
    yml = (
        "key: rows\ndatabase: db.duckdb\nsources:\n"
        "  events: {table: events, time: occurred_at}\n"
        "  visits: {sessions_of: events, id: rows}\n"
    )
    path, project = _project(tmp_path, yml, "segment s = count(visits) >= 1\n")
    with pytest.raises(SegqlErrors) as e:
        api.validate([path], project=project)
    text = str(e.value)
    assert "the key column 'rows' has the name of a column of sessions source 'visits'" in text
    assert "id: 'rows' is the key" in text


def test_sessions_of_a_source_timed_by_dates():
    """A DATE time column is read as local midnight (project time zone), so rows
    of consecutive days are 24 hours apart: one session with a gap of 1 day, two
    with 23 hours; first_<date column> stays a date."""
    events = table(
        "customer_id INTEGER, day DATE, name VARCHAR",
        (1, "2024-05-01", "a"),
        (1, "2024-05-02", "b"),
        (2, "2024-05-01", "a"),
        (2, "2024-05-03", "b"),
    )
    data = {"customers": CUSTOMERS, "days": events}
    sources = {**SOURCES, "days": {"table": "days", "time": "day"}}
    for gap, cond, expected in [
        ("1 day", "count(visits) = 1", {1}),
        ("23 hours", "count(visits) = 2", {1, 2}),
        ("1 day", "count(visits where first_day = 2024-05-01 and duration_s = 86400) = 1", {1}),
        ("1 day", "count(visits where last_day = 2024-05-03) = 1", {2}),
    ]:
        extra = {"sources": {**sources, "visits": {"sessions_of": "days", "gap": gap}}}
        check(cond, data, expected, as_of=AS_OF, project_extra=extra, timezone="America/New_York")


def test_the_language_md_example_compiles_for_every_dialect():
    """LANGUAGE.md §17's `median(sessions.duration_s, last 90 days) > 120`, with a
    landing page and a sequence beside it, for every dialect: the SQL parses back
    in that dialect, and holds one sessions CTE."""
    import sqlglot

    from segql.sql.dialects import DIALECTS

    cond = (
        'median(visits.duration_s, last 90 days) > 120 or did(visits where first_name = "a" '
        "then orders within 1 day) or count(visits, any 1 day) > 1"
    )
    for dialect in DIALECTS:
        sql, _, _ = compile_sql(cond, DATA, as_of=AS_OF, project_extra=BY_GAP, dialect=dialect)
        sqlglot.parse_one(sql, read=dialect)
        assert sql.replace("`", '"').count('"sessions_visits" AS (') == 1, dialect
