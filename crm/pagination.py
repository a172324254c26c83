"""Offset pagination with a total, shared by pages and the API."""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from sqlalchemy import func, select

from crm.extensions import db

MAX_PER_PAGE = 100


@dataclass
class Page:
    items: list
    total: int | None  # None when not counted: then only previous/next are known
    page: int
    per_page: int
    more: bool = False

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.more if self.total is None else self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def clamp(page: int, per_page: int) -> tuple[int, int]:
    return max(1, min(int(page), 10**6)), max(1, min(int(per_page), MAX_PER_PAGE))


def paginate(stmt, page: int, per_page: int, *, scalars: bool = True, count: bool = True,
             params: dict | None = None) -> Page:
    """One page of `stmt`. Without `count`, one extra row tells whether a next page exists,
    which spares a COUNT over the whole result where only previous/next are shown."""
    page, per_page = clamp(page, per_page)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()), params) \
        if count else None
    result = db.session.execute(stmt.limit(per_page + (0 if count else 1)).offset((page - 1) * per_page), params)
    items = list(result.scalars().unique() if scalars else result)
    more = not count and len(items) > per_page
    return Page(items=items[:per_page], total=total if count else None, page=page, per_page=per_page, more=more)
