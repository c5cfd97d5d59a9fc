"""The leaderboard page in a real headless browser, opened from file:// as a reader would: no
console errors, a click on a column header reorders the rows, every image loads, every link
lands, and a plot opens at full size. Skipped (with the reason) where no Chromium is installed;
`.ci/run` installs Debian's chromium-headless-shell when it can."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from browser import Browser, find_browser
from test_leaderboard import _write_board

from gunshot_bench.leaderboard import render_leaderboard

BOARD = Path(__file__).resolve().parents[1] / "leaderboard"
pytestmark = pytest.mark.skipif(find_browser() is None, reason="no headless Chromium installed "
                                "(Debian: apt-get install chromium-headless-shell; or set GUNSHOT_BENCH_BROWSER)")

BROKEN_IMAGES = "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
LINKS = "Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"


def _column(page, table: int, column: int) -> list[str]:
    return page.evaluate(f"Array.from(document.querySelectorAll('table.sortable')[{table}].tBodies[0].rows)"
                         f".map(r => r.cells[{column}].textContent.trim())")


def _number(text: str) -> float | None:
    m = re.match(r"[+-]?\d+(?:\.\d+)?", text)
    return float(m.group()) if m else None


def _click_header(page, table: int, name: str) -> int:
    """Click the header cell called `name` of the table; its column index."""
    headers = page.evaluate(f"Array.from(document.querySelectorAll('table.sortable')[{table}].tHead.rows[0].cells)"
                            ".map(c => c.textContent.trim())")
    column = next(i for i, h in enumerate(headers) if h.startswith(name))
    page.evaluate(f"document.querySelectorAll('table.sortable')[{table}].tHead.rows[0].cells[{column}].click()")
    return column


def _check_page(page, folder: Path) -> None:
    assert page.errors == [], page.errors
    assert page.evaluate("document.images.length") > 0
    assert page.evaluate(BROKEN_IMAGES) == []
    ids = set(page.evaluate("Array.from(document.querySelectorAll('[id]')).map(e => e.id)"))
    missing = []
    for href in page.evaluate(LINKS):
        if href.startswith("#"):
            if href[1:] not in ids:
                missing.append(href)
        elif not urlparse(href).scheme and not (folder / unquote(href)).is_file():
            missing.append(href)
    assert missing == [], f"links that lead nowhere: {missing[:5]}"


def _check_sorting(page) -> None:
    """The first table sorted by macro-F1: ascending on the first click, descending on the second,
    and the rows really move (the page lists them best main score first)."""
    before = _column(page, 0, 1)
    column = _click_header(page, 0, "macro-F1")
    values = [_number(v) for v in _column(page, 0, column)]
    numbers = [v for v in values if v is not None]
    assert len(numbers) >= 2 and numbers == sorted(numbers) and values[:len(numbers)] == numbers
    after = _column(page, 0, 1)
    assert sorted(after) == sorted(before)  # the same rows...
    assert after != before  # ...in another order
    _click_header(page, 0, "macro-F1")
    again = [v for v in (_number(v) for v in _column(page, 0, column)) if v is not None]
    assert again == sorted(numbers, reverse=True)
    model = _click_header(page, 0, "model")
    names = _column(page, 0, model)
    assert names == sorted(names, key=str.lower)


def _check_zoom(page) -> None:
    """A click on a confusion-matrix thumbnail shows that plot at its full size, Escape closes it."""
    thumb = page.evaluate("(() => { const i = document.querySelector('a.zoom img'); "
                          "return [i.width, i.naturalWidth, i.getAttribute('src')]; })()")
    page.evaluate("document.querySelector('a.zoom').click()")
    page.evaluate("new Promise(r => { const i = document.querySelector('#zoom img'); "
                  "i.complete ? r() : i.addEventListener('load', r); })")
    full = page.evaluate("(() => { const i = document.querySelector('#zoom img'); "
                         "return [i.width, i.naturalWidth, i.getAttribute('src')]; })()")
    assert full[2] == thumb[2] and full[1] == thumb[1] > 0
    assert full[0] == full[1] and full[0] >= thumb[0]  # shown at its own pixel size
    page.evaluate("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))")
    assert page.evaluate("document.getElementById('zoom')") is None


def test_committed_page_works_in_a_browser():
    """The committed page, with the committed plots."""
    with Browser.launch() as browser:
        page = browser.open((BOARD / "index.html").as_uri())
        _check_page(page, BOARD)
        _check_sorting(page)
        _check_zoom(page)
        assert page.errors == [], page.errors


def test_freshly_rendered_page_works_in_a_browser(tmp_path):
    """A page rendered here from generated results, plots drawn (so this does not lean on the
    committed files)."""
    _write_board(tmp_path)
    out = render_leaderboard(tmp_path / "results", tmp_path)
    with Browser.launch() as browser:
        page = browser.open(out.html.as_uri())
        _check_page(page, tmp_path)
        assert page.evaluate("document.images.length") == len(set(p.name for p in out.plots))
        _check_sorting(page)
        _check_zoom(page)
        assert page.evaluate("document.querySelectorAll('nav#contents a').length") >= 4
        assert page.errors == [], page.errors


def test_a_missing_plot_is_caught(tmp_path):
    """The checks can fail: a page whose plot is gone reports it (log error and a broken image)."""
    _write_board(tmp_path)
    out = render_leaderboard(tmp_path / "results", tmp_path)
    out.plots[0].unlink()
    with Browser.launch() as browser:
        page = browser.open(out.html.as_uri())
        assert any("Failed to load resource" in e for e in page.errors)
        assert page.evaluate(BROKEN_IMAGES) == [out.plots[0].as_uri()]
