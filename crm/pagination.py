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
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def clamp(page: int, per_page: int) -> tuple[int, int]:
    return max(1, min(int(page), 10**6)), max(1, min(int(per_page), MAX_PER_PAGE))


def paginate(stmt, page: int, per_page: int, *, scalars: bool = True) -> Page:
    page, per_page = clamp(page, per_page)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    result = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    items = list(result.scalars().unique() if scalars else result)
    return Page(items=items, total=total or 0, page=page, per_page=per_page)
