"""The contract of /api/v1, written once: marshmallow schemas through flask-smorest.

One schema per shape. ``@bp.arguments(Schema, location=...)`` validates a request
(query string or JSON body) and hands the view what it parsed;
``@bp.response(status, Schema)`` serialises what the view returns (a read model
or a dict); and the same decorators describe the operation in
``/api/v1/openapi.json`` (vault/web/openapi.py builds the document from them).
Why flask-smorest: docs/api.md.

The fields below keep the API's input rules and words: an empty query value is
no value, a text field refuses control characters, a number is plain decimal
digits within bounds, a date lies between the years 1900 and 2999. A refusal
becomes ``InvalidInput`` (400, code ``invalid_input``, the message starting with
the field's name), rendered like every other error in vault/web/__init__.py.
"""

from __future__ import annotations

import functools
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from enum import Enum
from typing import Any, NoReturn, TypeVar

import flask_smorest
import marshmallow as ma
from flask import request
from marshmallow import fields, validate
from webargs.flaskparser import FlaskParser

from vault.errors import InvalidInput

#: Row ids are 32-bit in the schema; a larger id names nothing.
MAX_ID = 2**31 - 1
#: Dates outside these years are refused: nothing in the vault is that old or
#: that far ahead, and the bounds keep every date arithmetic within the calendar.
MIN_YEAR, MAX_YEAR = 1900, 2999

F = TypeVar("F", bound=Callable[..., Any])


def bad(field: str, why: str) -> InvalidInput:
    return InvalidInput(f"{field}: {why}", code="invalid_input", field=field)


def json_object() -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says how to send one."""
    try:
        body = request.get_json(silent=True) if request.is_json else None
    except RecursionError:  # nested deeper than the parser goes; not a ValueError
        body = None
    if not isinstance(body, dict):
        raise bad("body", "send a JSON object (Content-Type: application/json)")
    return body


# ---------------------------------------------------------------------------
# Fields: how a value is read, and what the document says about it


REQUIRED = {"required": "is required", "null": "is required"}


class Text(fields.String):
    """A line of text: no control characters, at most ``max_len`` characters."""

    allowed_controls = ""

    def __init__(self, max_len: int, *, min_len: int = 0, not_blank: bool = False,
                 check_controls: bool = True, **kwargs: Any) -> None:
        self.max_len, self.min_len, self.not_blank = max_len, min_len, not_blank
        self.check_controls = check_controls
        length = validate.Length(min=min_len or None, max=max_len)
        kwargs["error_messages"] = {**REQUIRED, **kwargs.get("error_messages", {})}
        super().__init__(validate=length, **kwargs)

    def _validate(self, value: Any) -> None:
        """The validators only describe the field (min/max for the document):
        ``_deserialize`` has checked the value, in the API's words."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise ma.ValidationError("must be a string")
        if len(value) > self.max_len:
            raise ma.ValidationError(f"at most {self.max_len} characters")
        if self.check_controls and any(
                unicodedata.category(c) in ("Cc", "Cs") and c not in self.allowed_controls
                for c in value):
            raise ma.ValidationError("contains control characters")
        if len(value) < self.min_len or (self.not_blank and not value.strip()):
            raise ma.ValidationError(self.error_messages["required"])
        return value


class FreeText(Text):
    """A description or note: lines and tabs allowed, other control characters not."""

    allowed_controls = "\n\t"


class Whole(fields.Integer):
    """A whole number from ``lo`` to ``hi``: plain digits in a query, a JSON number
    (not a boolean, not 1.0) in a body."""

    def __init__(self, lo: int, hi: int, *, in_body: bool = False, **kwargs: Any) -> None:
        self.lo, self.hi, self.in_body = lo, hi, in_body
        kwargs["error_messages"] = {**REQUIRED, **kwargs.get("error_messages", {})}
        super().__init__(strict=True, validate=validate.Range(min=lo, max=hi), **kwargs)

    def _validate(self, value: Any) -> None:
        """The validators only describe the field (min/max for the document):
        ``_deserialize`` has checked the value, in the API's words."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        why = f"must be a whole number from {self.lo} to {self.hi}"
        if isinstance(value, str) and not self.in_body:
            text = value.strip()
            if not (text.isascii() and text.isdigit()) or len(text) > 12:
                raise ma.ValidationError(why)
            number = int(text)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            raise ma.ValidationError(why)
        if not self.lo <= number <= self.hi:
            raise ma.ValidationError(why)
        return number


class Choice(fields.String):
    """One of an enumeration's values (the view gets the member), or of a list of
    words (the view gets the word)."""

    def __init__(self, kind: type[Enum] | Sequence[str], *, message: str | None = None,
                 **kwargs: Any) -> None:
        self.kind = kind
        values = ([str(m.value) for m in kind] if isinstance(kind, type)
                  else [str(v) for v in kind])
        self.values = values
        self.message = message or "must be one of: " + ", ".join(values)
        kwargs["error_messages"] = {**REQUIRED, **kwargs.get("error_messages", {})}
        super().__init__(validate=validate.OneOf(values), **kwargs)

    def _validate(self, value: Any) -> None:
        """The validators only describe the field (min/max for the document):
        ``_deserialize`` has checked the value, in the API's words."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(self.kind, type):
            try:
                return self.kind(value)
            except ValueError:
                raise ma.ValidationError(self.message) from None
        if value not in self.values:
            raise ma.ValidationError(self.message)
        return value

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value.value if isinstance(value, Enum) else value


class Day(fields.Date):
    """A date YYYY-MM-DD between the years 1900 and 2999 (a date or its ISO text out);
    with ``empty_is_null``, "" reads as null."""

    def __init__(self, *, empty_is_null: bool = False, **kwargs: Any) -> None:
        self.empty_is_null = empty_is_null
        kwargs["error_messages"] = {**REQUIRED, **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if value == "" and self.empty_is_null:
            return None
        if not isinstance(value, str) or len(value) > 10:
            raise ma.ValidationError("must be a date YYYY-MM-DD")
        try:
            day = date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise ma.ValidationError("must be a date YYYY-MM-DD")
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ma.ValidationError(f"must lie between {MIN_YEAR} and {MAX_YEAR}")
        return day

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value if value is None or isinstance(value, str) else value.isoformat()


class Moment(fields.DateTime):
    """An ISO date-time (or a date: its midnight); without an offset, group time;
    with ``empty_is_null``, "" reads as null."""

    def __init__(self, *, empty_is_null: bool = False, **kwargs: Any) -> None:
        self.empty_is_null = empty_is_null
        kwargs["error_messages"] = {**REQUIRED, **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        from vault.web import support

        if value == "" and self.empty_is_null:
            return None

        why = "must be a date-time like 2027-06-30T09:00+08:00 or a date"
        if not isinstance(value, str) or len(value) > 40:
            raise ma.ValidationError(why)
        try:
            if len(value) == 10:
                parsed = datetime.combine(date.fromisoformat(value), time(0, 0))
            else:
                parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=support.settings().tz)
            in_utc = parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ma.ValidationError(why) from None
        if not MIN_YEAR <= in_utc.year <= MAX_YEAR:
            raise ma.ValidationError(f"must lie between {MIN_YEAR} and {MAX_YEAR}")
        return parsed

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return value if value is None or isinstance(value, str) else value.isoformat()


class Flag(fields.Boolean):
    """A query switch: true or 1, false or 0."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if value in ("1", "true", True):
            return True
        if value in ("0", "false", False):
            return False
        raise ma.ValidationError("must be true or false (1 or 0)")


class Lang(fields.String):
    """The language of markings and labels: zh (default) or en."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {}).setdefault(
            "description", "Language of the marking (密级★保密期限): zh (default) or en.")
        super().__init__(validate=validate.OneOf(["zh", "en"]), load_default="zh", **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        if value not in ("zh", "en"):
            raise ma.ValidationError("must be zh or en")
        return str(value)


# Output fields: values are read models' attributes or a dict's keys; the
# document marks every field required unless said otherwise.
def Str(**kw: Any) -> fields.String:  # noqa: N802 - a field factory reads as a type
    return fields.String(required=True, **kw)


def Int(**kw: Any) -> fields.Integer:  # noqa: N802
    return fields.Integer(required=True, **kw)


def Bool(**kw: Any) -> fields.Boolean:  # noqa: N802
    return fields.Boolean(required=True, **kw)


def Null(field: fields.Field) -> fields.Field:  # noqa: N802
    """A field whose value may be null."""
    field.allow_none = True
    return field


def describe(text: str) -> dict[str, Any]:
    return {"metadata": {"description": text}}


# ---------------------------------------------------------------------------
# Schemas


class Query(ma.Schema):
    """A query string: unknown names are ignored, an empty value is no value."""

    class Meta:
        unknown = ma.EXCLUDE

    @ma.pre_load
    def _drop_empty(self, data: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {k: data[k] for k in data if data[k] != ""}


class Body(ma.Schema):
    """A JSON object: names the contract does not know are ignored."""

    #: Every field is optional and the body may be left out altogether.
    optional_body = False

    class Meta:
        unknown = ma.EXCLUDE


class Loose(Body):
    """A JSON object whose empty values ("" or null) count as not given."""

    @ma.pre_load
    def _drop_empty(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        return {k: data.get(k) for k in data if data.get(k) not in (None, "")}


class ContractWarning(UserWarning):
    """An answer carried a field its schema does not declare (and so would drop)."""


class Out(ma.Schema):
    """A response. A dict handed over with a key the schema does not know raises a
    ContractWarning (an error under pytest): a field a service adds must be added
    to the contract, not silently dropped from the answer."""

    class Meta:
        ordered = True

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # A dict's missing key is missing, never one of its methods (dict.copy).
        if isinstance(obj, Mapping):
            return obj.get(attr, default)
        return super().get_attribute(obj, attr, default)

    @ma.pre_dump
    def _known(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, Mapping):
            known = {f.attribute or name for name, f in self.fields.items()}
            extra = sorted(set(data) - known)
            if extra:
                warnings.warn(f"{type(self).__name__} does not declare {extra}",
                              ContractWarning, stacklevel=2)
        return data


class Parser(FlaskParser):
    """webargs' Flask parser, refusing in Vault's words and envelope."""

    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req: Any, schema: ma.Schema) -> Any:
        if (getattr(schema, "optional_body", False) and not request.content_length
                and request.mimetype != "application/json"):
            return {}  # every field optional: no body at all is {}
        return json_object()

    def handle_error(self, error: ma.ValidationError, req: Any, schema: ma.Schema, *,
                     error_status_code: int | None,
                     error_headers: Mapping[str, str] | None) -> NoReturn:
        field, why = first_message(error.messages)
        raise bad(field, why)


def load(schema: type[ma.Schema], data: Any) -> dict[str, Any]:
    """Validate ``data`` (a dict, or a form's fields) against ``schema`` outside
    webargs: for bodies a view reads itself (multipart uploads stream)."""
    try:
        return dict(schema().load(data))
    except ma.ValidationError as exc:
        field, why = first_message(exc.messages)
        raise bad(field, why) from None


def load_value(field: fields.Field, name: str, value: Any) -> Any:
    """One value (a path segment) through a field's rules."""
    try:
        return field.deserialize(value)
    except ma.ValidationError as exc:
        raise bad(name, first_message(exc.messages)[1]) from None


def first_message(messages: Any, field: str = "body") -> tuple[str, str]:
    """The first field named in marshmallow's messages and what is wrong with it."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key in ("json", "query", "querystring", "form", "_schema") or isinstance(key, int):
                return first_message(value, field)  # a location, or an item of a list
            return first_message(value, str(key))
    if isinstance(messages, list) and messages:
        return first_message(messages[0], field)
    if messages == "Unknown field.":
        return field, "is not a field of this operation"
    return field, str(messages)


class Blueprint(flask_smorest.Blueprint):
    """The API's blueprint: flask-smorest's, with Vault's parser and error answers."""

    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema: Any, **kwargs: Any) -> Callable[[F], F]:
        kwargs.setdefault("error_status_code", 400)
        inner = super().arguments(schema, **kwargs)

        def decorator(func: F) -> F:
            wrapped = inner(func)
            # Refusals are documented as the shared BadRequest response.
            wrapped._apidoc["arguments"]["responses"] = {400: "BadRequest"}
            return wrapped

        return decorator

    def errors(self, *names: str, reauth: bool = False) -> Callable[[F], F]:
        """Document the error answers of an operation (BadRequest, NotFound, …);
        Unauthenticated (or, for decisions, ReauthFailed) and Unavailable go with
        every authenticated one."""
        codes = {"BadRequest": 400, "Unauthenticated": 401, "Forbidden": 403,
                 "NotFound": 404, "Conflict": 409, "TooLarge": 413, "Unsupported": 415,
                 "Unavailable": 503, "ReauthFailed": 401}

        def decorator(func: F) -> F:
            first = "ReauthFailed" if reauth else "Unauthenticated"
            for name in (first, "Unavailable", *names):
                func = self.alt_response(codes[name], response=name)(func)
            return func

        return decorator

    def operation(self, operation_id: str, **doc: Any) -> Callable[[F], F]:
        return self.doc(operationId=operation_id, **doc)


def refuses_head(func: F) -> F:
    """Answer HEAD with 405 before anything is read (support.refuse_head): for routes
    whose GET releases content."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from vault.web import support

        support.refuse_head()
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def path_id(what: str) -> dict[str, Any]:
    """The ``id`` of a path, as the document states it: a 32-bit row id."""
    return {"in": "path", "name": "id", "required": True, "description": f"{what} id.",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}


class Person(Out):
    username = Str()
    name = Str()

