"""The one route converter for database ids: ``<id:doc_id>``.

Ids are PostgreSQL ``integer`` keys, so a path number outside 1 … 2³¹−1 names no
row (and the databases would refuse it as a parameter). Only ASCII digits match
(``int`` would also read other scripts' digits and a sign).

Pages write ``<id:doc_id>``: a number out of range matches no route and is answered
404 like any other path naming nothing. The API names what the id is,
``<id("request"):id>``: there a path of digits out of range is the API's own 404
for an absent row (``unknown_request``, "No request 2147483648.", in the JSON
envelope), raised before the view reads the query or the body.
"""

from __future__ import annotations

from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.routing import IntegerConverter, Map

from vault.errors import NotFound

#: The largest id a row can have (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1


class UnknownRow(HTTPNotFound):
    """An API path id no row can have, raised while the route is matched (where
    werkzeug lets only HTTP exceptions through); the app's error handler answers its
    ``error``, Vault's NotFound, as it answers any other."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.error = NotFound(message, code=code)


class IdConverter(IntegerConverter):
    regex = r"[0-9]{1,10}"

    def __init__(self, map: Map, what: str | None = None, code: str | None = None) -> None:
        super().__init__(map, min=1, max=MAX_ID)
        self.what = what
        self.code = code or f"unknown_{what}"
        if what is not None:
            self.regex = r"[0-9]+"  # every number is this route's, answered as the API does

    def to_python(self, value: str) -> int:
        if self.what is None:
            return super().to_python(value)
        if len(value) > 10 or not valid_id(int(value)):  # int() of 5,000 digits is refused
            raise UnknownRow(f"No {self.what} {value}.", self.code)
        return int(value)


def valid_id(value: int) -> bool:
    """Whether ``value`` can name a row (for ids that come in a query string or body)."""
    return 1 <= value <= MAX_ID
