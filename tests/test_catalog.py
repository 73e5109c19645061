"""`segql docs` (LANGUAGE.md §16): the HTML catalog of the examples — every
page there, every link resolving, the same bytes twice, each definition's
context, text, references both ways and SQL; and in headless Chromium: no
console error, search and filters work, links open."""

from __future__ import annotations

import html
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import copy_examples
from typer.testing import CliRunner

from segql import api
from segql.catalog.build import page_name
from segql.cli import app
from segql.sql.dialects import DIALECTS

EXAMPLES = Path(__file__).parents[1] / "examples" / "segments"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("catalog")
    cwd = os.getcwd()
    os.chdir(EXAMPLES)
    try:
        r = CliRunner().invoke(app, ["docs", "--out", str(out)], catch_exceptions=False)
    finally:
        os.chdir(cwd)
    assert r.exit_code == 0, r.output
    return out


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def links(page: Path) -> list[str]:
    p = _Links()
    p.feed(page.read_text(encoding="utf-8"))
    return p.links


def test_every_definition_has_a_page_and_every_link_resolves(catalog):
    model = api.load([str(EXAMPLES)])
    pages = {p.name for p in catalog.glob("*.html")}
    assert pages == {"index.html", *(page_name(n) for n in model.definitions)}
    for page in catalog.glob("*.html"):
        for link in links(page):
            assert not link.startswith(("http:", "https:", "//")), (page.name, link)  # offline
            assert (catalog / link).is_file(), (page.name, link)


def test_the_same_bytes_twice(catalog, tmp_path, monkeypatch):
    monkeypatch.chdir(EXAMPLES)
    CliRunner().invoke(app, ["docs", "--out", str(tmp_path)], catch_exceptions=False)
    for page in catalog.iterdir():
        assert (tmp_path / page.name).read_bytes() == page.read_bytes(), page.name


def text(page: Path) -> str:
    return html.unescape(page.read_text(encoding="utf-8"))


def test_a_segment_page_shows_context_definition_references_and_sql(catalog, monkeypatch):
    monkeypatch.chdir(EXAMPLES)
    page = text(catalog / "high_value.html")
    assert "<h1>High-value customers</h1>" in page
    assert "High spenders respond to early access to launches" in page
    assert "email, push" in page and "conversion_rate, average_order_value" in page
    assert "<code>language.seg:12</code>" in page  # relative to the project: same bytes anywhere
    # the definition as written, whole
    assert 'where sum(orders.amount, last 90 days) > 1000 and country in ("US", "CA")' in page
    # used by: lifecycle (vip = high_value and recent_buyers) among others
    used_by = page.split("<h3>Used by</h3>")[1].split("</div>")[0]
    assert '<a href="lifecycle.html">lifecycle</a>' in used_by
    model = api.load(["."])
    for dialect in DIALECTS:
        sql = api.compile_model(model, dialect, segment="high_value").sql()
        assert f"<summary>{dialect}</summary><pre><code>{sql}</code></pre>" in page


def test_a_segmentation_page_links_what_it_uses(catalog):
    page = text(catalog / "lifecycle.html")
    uses = page.split("<h3>Uses</h3>")[1].split("</div>")[0]
    for name in ("high_value", "recent_buyers", "frequency", "recency"):
        assert f'<a href="{name}.html">{name}</a>' in uses
    assert "vip, at_risk, new, browsers" in page
    # a YAML definition is shown with its nested lines
    page = text(catalog / "lifecycle_y.html")
    assert "rules:\n    - vip_y: high_value_y and recent_buyers_y" in page


def test_the_index_lists_everything_with_filters(catalog):
    page = text(catalog / "index.html")
    assert page.count('<tr data-name="') == len(list(catalog.glob("*.html"))) - 1
    assert '<option value="email">email</option>' in page
    assert '<option value="conversion_rate">conversion_rate</option>' in page
    data = re.search(r"const CATALOG = (\[.*?\]);</script>", page, re.S)
    assert data and '"name": "high_value"' in data.group(1)


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("SEGQL_REQUIRE_ENGINES"):
            pytest.fail("chromium and chromedriver are needed (Debian: chromium chromium-driver)")
        pytest.skip("no chromium/chromedriver here (bash .ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.mark.engines
def test_in_a_browser(catalog, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser = _browser()
    try:
        browser.get((catalog / "index.html").as_uri())
        rows = browser.find_elements(By.CSS_SELECTOR, "#definitions tbody tr")
        visible = lambda: [r for r in rows if r.is_displayed()]  # noqa: E731
        assert len(visible()) == len(rows) > 20
        count = browser.find_element(By.ID, "count")
        assert count.text == f"{len(rows)} of {len(rows)}"
        browser.find_element(By.ID, "search").send_keys("high-value customers")
        names = [r.get_attribute("data-name") for r in visible()]
        assert names == ["high_value", "high_value_y"]
        browser.find_element(By.ID, "search").clear()
        browser.find_element(By.ID, "search").send_keys(" ")  # an input event after clear
        Select(browser.find_element(By.ID, "kind")).select_by_value("segmentation")
        assert {r.get_attribute("data-name") for r in visible()} >= {"lifecycle", "lifecycle_y"}
        kinds = [r.find_elements(By.TAG_NAME, "td")[1].text for r in visible()]
        assert set(kinds) == {"segmentation"}, kinds
        Select(browser.find_element(By.ID, "kind")).select_by_value("")
        Select(browser.find_element(By.ID, "channel")).select_by_value("email")
        assert [r.get_attribute("data-name") for r in visible()] == ["high_value", "high_value_y"]
        browser.save_screenshot(str(tmp_path / "index.png"))
        browser.find_element(By.LINK_TEXT, "high_value").click()
        assert browser.find_element(By.TAG_NAME, "h1").text == "High-value customers"
        browser.find_element(By.LINK_TEXT, "lifecycle").click()
        assert "lifecycle" in browser.title
        browser.save_screenshot(str(tmp_path / "lifecycle.png"))
        logs = browser.get_log("browser")
        assert not [e for e in logs if e["level"] in ("SEVERE", "WARNING")], logs
        if os.environ.get("SEGQL_SCREENSHOTS"):  # to look at them: SEGQL_SCREENSHOTS=DIR
            for png in tmp_path.glob("*.png"):
                shutil.copy(png, Path(os.environ["SEGQL_SCREENSHOTS"]) / png.name)
    finally:
        browser.quit()


def test_a_split_page(catalog):
    page = text(catalog / "cart_test.html")
    assert "<dt>groups</dt><dd>control 10%, email 45%, sms 45%</dd>" in page
    assert '<a href="cart_abandoners.html">cart_abandoners</a>' in page
    assert "<summary>bigquery</summary>" in page


@pytest.fixture(scope="module")
def with_state(tmp_path_factory) -> Path:
    """The catalog of the examples with `--db`: two runs on the sample."""
    root = copy_examples(tmp_path_factory.mktemp("state"))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        for args in (
            ["sample", "--db", "wh.duckdb", "--scale", "0.003"],
            ["run", ".", "--db", "wh.duckdb", "--as-of", "2025-06-01"],
            ["run", ".", "--db", "wh.duckdb", "--as-of", "2025-07-01"],
            ["docs", "--db", "wh.duckdb", "--out", "site"],
        ):
            r = CliRunner().invoke(app, args, catch_exceptions=False)
            assert r.exit_code == 0, r.output
    finally:
        os.chdir(cwd)
    return root


def test_sizes_per_run_and_overlap_from_the_state(with_state):
    import duckdb

    con = duckdb.connect(str(with_state / "wh.duckdb"), read_only=True)
    sizes = con.execute(
        "SELECT members, entered, exited FROM segql.sizes"
        " WHERE name = 'recent_buyers' ORDER BY run_id"
    ).fetchall()
    member = dict(con.execute("SELECT customer_id, recent_buyers FROM segql.membership").fetchall())
    both = con.execute(
        "SELECT count(*) FROM segql.membership WHERE recent_buyers AND high_value"
    ).fetchone()[0]
    con.close()
    page = text(with_state / "site" / "recent_buyers.html")
    assert "<h2>Size per run</h2>" in page and page.count("<polyline") == 1
    for members, entered, exited in sizes:
        assert (
            f"<td>{members:,}</td>" in page and f"<td>{entered:,}</td><td>{exited:,}</td>" in page
        )
    index = text(with_state / "site" / "index.html")
    matrix = index.split("<h2>Overlap of segments</h2>")[1]
    row = matrix.split('<tr><th><a href="recent_buyers.html">recent_buyers</a></th>')[1].split(
        "</tr>"
    )[0]
    cells = [int(c.replace(",", "")) for c in re.findall(r"<td>([\d,]+)</td>", row)]
    head = re.findall(r'<th><a href="[^"]+">([^<]+)</a></th>', matrix.split("</thead>")[0])
    assert cells[head.index("recent_buyers")] == sum(bool(v) for v in member.values())
    assert cells[head.index("high_value")] == both
    lifecycle = text(with_state / "site" / "lifecycle.html")
    assert lifecycle.count("<polyline") == 4  # a line per label


@pytest.mark.engines
def test_the_catalog_with_state_in_a_browser(with_state):
    from selenium.webdriver.common.by import By

    browser = _browser()
    try:
        browser.get((with_state / "site" / "index.html").as_uri())
        assert browser.find_element(By.CSS_SELECTOR, "table.matrix").is_displayed()
        browser.get((with_state / "site" / "lifecycle.html").as_uri())
        assert len(browser.find_elements(By.TAG_NAME, "polyline")) == 4
        logs = browser.get_log("browser")
        assert not [e for e in logs if e["level"] in ("SEVERE", "WARNING")], logs
        if os.environ.get("SEGQL_SCREENSHOTS"):
            browser.save_screenshot(str(Path(os.environ["SEGQL_SCREENSHOTS"]) / "history.png"))
    finally:
        browser.quit()
