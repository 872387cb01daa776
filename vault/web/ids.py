"""The one route converter for database ids: ``<id:doc_id>``.

Ids are PostgreSQL ``integer`` keys, so a path number outside 1 … 2³¹−1 names no
row (and the databases would refuse it as a parameter): such a path matches no
route and is answered 404, like any other path naming nothing. Only ASCII digits
match (``int`` would also read other scripts' digits and a sign).
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, Map

#: The largest id a row can have (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    regex = r"[0-9]{1,10}"

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def valid_id(value: int) -> bool:
    """Whether ``value`` can name a row (for ids that come in a query string or body)."""
    return 1 <= value <= MAX_ID
