"""Extraction for `web_scrape_bs4`: BeautifulSoup over a fetched page (runs in a thread).

Kept apart from the fetching code so BeautifulSoup and soupsieve are imported only when a
page is actually scraped, not every time the engine starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bs4 import BeautifulSoup, Tag

from engine.tools.builtin.web import DEFAULT_MAX_CHARS

if TYPE_CHECKING:
    from engine.tools.builtin.web import ScrapeArgs

_DROP = ("script", "style", "noscript", "template")


def _roots(soup: BeautifulSoup, selector: str | None) -> list[Tag]:
    return list(soup.select(selector)) if selector else [soup]


def extract(page: dict[str, Any], args: ScrapeArgs) -> dict[str, Any]:
    """Parse and extract (runs in a thread). Every mode stops at `max_chars`."""
    soup = BeautifulSoup(page["body"], "html.parser", from_encoding=page["encoding"])
    for tag in soup(_DROP):
        tag.decompose()
    roots = _roots(soup, args.selector)
    budget = args.max_chars or DEFAULT_MAX_CHARS
    used, truncated = 0, False
    items: list[Any] = []
    for root in roots:
        found: list[Any]
        if args.mode == "text":
            found = [" ".join(root.get_text(" ", strip=True).split())]
        elif args.mode == "links":
            anchors = [root] if root.name == "a" else root.find_all("a", href=True)
            found = [
                {
                    "href": str(page["url"].join(str(a.get("href", "")))),
                    "text": a.get_text(" ", strip=True),
                }
                for a in anchors
                if isinstance(a, Tag) and a.get("href")
            ]
        else:
            tables = [root] if root.name == "table" else root.find_all("table")
            found = [_table_rows(t) for t in tables if isinstance(t, Tag)]
        for item in found:
            size = len(str(item))
            if used + size > budget:
                truncated = True
                if args.mode == "text":
                    items.append(item[: budget - used])
                break
            items.append(item)
            used += size
        if truncated:
            break
    result: dict[str, Any] = {"matched": len(roots), "truncated": truncated}
    if args.mode == "text":
        result["text"] = "\n".join(i for i in items if i)
    else:
        result[args.mode] = items
    return result


def _table_rows(table: Tag) -> list[list[str]]:
    rows = []
    for tr in table.find_all("tr"):
        if isinstance(tr, Tag) and tr.find_parent("table") is table:  # skip nested tables
            cells = tr.find_all(["th", "td"], recursive=False)
            rows.append([" ".join(c.get_text(" ", strip=True).split()) for c in cells])
    return rows
