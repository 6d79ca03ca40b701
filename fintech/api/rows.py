"""Read serializers compiled once: list endpoints write their pages at the speed of their SQL.

A DRF serializer walks its fields for every row, and a nested serializer or a related object
costs model instances and serializer instances per row. A `FlatRows` reads an output serializer's
fields ONCE (at import) into a plan over `values()` rows: one tuple per field (the JSON key, the
`values()` column, the field's own `to_representation`). A page is then one query returning
dicts and a tight loop, and the JSON is the serializer's to the character (the same field objects
format every value; `tests/fintech/api/test_list_endpoints.py` compares both on every list).

Fields a plain column cannot give (a nested object, a list, a computed value) are declared as
`computed`: the columns they read and a function of the row and the page's context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

Row = dict[str, Any]
Context = dict[str, Any]

# Fields whose representation of a values() value is the value itself (int, str, bool from the
# database): calling them would only cost time.
_AS_IS = (serializers.IntegerField, serializers.CharField, serializers.ChoiceField, serializers.BooleanField)


# Fields that read more than one column of the row: they must be declared as computed.
_NOT_COLUMNS = (serializers.SerializerMethodField, serializers.ManyRelatedField, serializers.BaseSerializer)


@dataclass(frozen=True)
class Computed:
    """A field computed from the row: the columns it reads and fn(row, context)."""

    columns: Sequence[str]
    fn: Callable[[Row, Context], Any]


class FlatRows:
    """An output serializer's fields as a plan over `values()` rows (see the module docstring)."""

    def __init__(
        self,
        serializer_class: type[serializers.Serializer],
        *,
        prefix: str = "",
        computed: dict[str, Computed] | None = None,
    ) -> None:
        computed = computed or {}
        self.name = serializer_class.__name__
        self.plan: list[tuple[str, str | None, Callable[[Any], Any] | None, Computed | None]] = []
        columns: list[str] = []
        for name, field in serializer_class().fields.items():
            if name in computed:
                columns.extend(computed[name].columns)
                self.plan.append((name, None, None, computed[name]))
                continue
            if isinstance(field, _NOT_COLUMNS):
                raise ImproperlyConfigured(f"{self.name}.{name} is not a column: declare it as computed")
            column = prefix + "__".join(field.source_attrs)
            convert = None if type(field) in _AS_IS else field.to_representation
            columns.append(column)
            self.plan.append((name, column, convert, None))
        self.columns = tuple(dict.fromkeys(columns))

    def values(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        """The queryset as dicts of exactly the plan's columns (no related model instances)."""
        return qs.select_related(None).prefetch_related(None).values(*self.columns)

    def write(self, row: Row, context: Context) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, column, convert, computed in self.plan:
            if computed is not None:
                out[name] = computed.fn(row, context)
                continue
            value = row[column]  # type: ignore[index]  # a column whenever not computed
            out[name] = value if value is None or convert is None else convert(value)
        return out

    def write_all(self, rows: Iterable[Row], context: Context) -> list[dict[str, Any]]:
        write = self.write
        return [write(row, context) for row in rows]


class _Rows:
    """What the paginator pages: the count asked of the model query (without the joins only the
    columns need: they are to-one joins, so the count is the same), the page sliced from the rows."""

    def __init__(self, base: QuerySet[Any], rows: QuerySet[Any]) -> None:
        self.base, self.rows = base, rows
        self.ordered = rows.ordered

    def count(self) -> int:
        return self.base.count()

    def __getitem__(self, k: Any) -> Any:
        return self.rows[k]


class FlatListMixin:
    """ListAPIView.list through a FlatRows: filter, paginate the values() rows, write them.

    `page_context(rows, request)` may add what the computed fields need (one query per page, never
    per row)."""

    rows: FlatRows

    def page_context(self, rows: list[Row], request: Request) -> Context:
        return {}

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        view: Any = self
        base = view.filter_queryset(view.get_queryset())
        qs = self.rows.values(base)
        page = view.paginate_queryset(_Rows(base, qs))
        rows = list(page if page is not None else qs)
        body = self.rows.write_all(rows, self.page_context(rows, request))
        return view.get_paginated_response(body) if page is not None else Response(body)  # type: ignore[no-any-return]
