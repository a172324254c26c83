"""One way to page every API list: `page` and `per_page` in the query, one envelope in the answer."""
from __future__ import annotations

from crm.pagination import Page, clamp


def page_body(page: Page) -> dict:
    """The envelope of every list: `total` and `pages` are null where the list is not
    counted (a count would cost a second pass); `has_next` is always known."""
    return {"items": page.items, "total": page.total, "page": page.page,
            "per_page": page.per_page, "pages": page.pages, "has_next": page.has_next}


def list_page(items: list, args: dict) -> dict:
    """The envelope for a short list a service answers whole (catalogs, settings)."""
    page, per_page = clamp(args.get("page", 1), args.get("per_page", 25))
    start = (page - 1) * per_page
    return page_body(Page(items=items[start:start + per_page], total=len(items), page=page, per_page=per_page))
