"""The connections file that ``connector connections apply`` reads: YAML in, connections out.

Each secret is given inline or by a ``*_env`` key naming an environment variable, read when the
file is applied (a list secret's variable holds comma-separated values). Every problem names
the connection and the key but never quotes a value: YAML and pydantic errors like to echo
their input, and in this file the input may be a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, get_args, get_origin

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator

from shared.connection_settings import MappingSettings, Mode, ReconcileSettings
from shared.connections.model import (
    NAME_PATTERN,
    Connection,
    CoupaSettings,
    DeltekSettings,
    HttpsOnly,
    Secrets,
    StoredSettings,
    Strict,
)

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class ConnectionFileError(ValueError):
    """The file cannot be applied; ``problems`` lists every reason, one per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source} cannot be applied:\n{lines}")


class SecretSources(Strict):
    """A section whose secrets each come inline or from the variable ``<name>_env`` names."""

    REQUIRED: ClassVar[tuple[str, ...]] = ()
    LISTS: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _one_source_each(self) -> Self:
        for name in (*self.REQUIRED, *self.LISTS):
            inline, env = getattr(self, name), getattr(self, f"{name}_env")
            if inline is not None and env is not None:
                raise ValueError(f"give {name} or {name}_env, not both")
            if name in self.REQUIRED and inline is None and env is None:
                raise ValueError(f"{name} or {name}_env is required")
        return self

    def secrets(self, environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
        """Resolved secrets by name; an unset variable adds a problem instead."""
        found: dict[str, Any] = {}
        for name in (*self.REQUIRED, *self.LISTS):
            inline: SecretStr | tuple[SecretStr, ...] | None = getattr(self, name)
            var: str | None = getattr(self, f"{name}_env")
            if inline is not None:
                found[name] = inline
            elif var is not None:
                value = environ.get(var, "")
                if not value.strip():
                    state = "empty" if var in environ else "not set"
                    problems.append(f"{name}_env names {var}, which is {state}")
                elif name in self.LISTS:
                    found[name] = tuple(part.strip() for part in value.split(",") if part.strip())
                else:
                    found[name] = value
        return found


class CoupaSection(CoupaSettings, SecretSources):
    REQUIRED = ("client_secret",)
    LISTS = ("callout_secrets",)

    client_secret: SecretStr | None = None
    client_secret_env: EnvName | None = None
    callout_secrets: tuple[SecretStr, ...] | None = None
    callout_secrets_env: EnvName | None = None


class DeltekSection(DeltekSettings, SecretSources):
    REQUIRED = ("password", "client_secret")

    password: SecretStr | None = None
    password_env: EnvName | None = None
    client_secret: SecretStr | None = None
    client_secret_env: EnvName | None = None


class ConnectionEntry(HttpsOnly):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    mode: Mode = "live"
    coupa: CoupaSection
    deltek: DeltekSection
    mapping: MappingSettings = MappingSettings()
    reconcile: ReconcileSettings = ReconcileSettings()

    def resolve(self, environ: Mapping[str, str], problems: list[str]) -> Connection | None:
        """The connection with its secrets read; None (and problems added) if some are unset
        or too weak to store."""
        own: list[str] = []
        secrets: dict[str, Any] = {}
        for section_name, section in (("coupa", self.coupa), ("deltek", self.deltek)):
            found = section.secrets(environ, own)
            secrets |= {f"{section_name}_{name}": value for name, value in found.items()}
        resolved = None if own else Secrets.model_validate(secrets)
        if resolved is not None:
            own += resolved.weaknesses()
        problems += [f"connection {self.name!r}: {problem}" for problem in own]
        if resolved is None or own:
            return None
        settings = StoredSettings(
            mode=self.mode,
            allow_insecure_http=self.allow_insecure_http,
            coupa=CoupaSettings.model_validate(
                self.coupa.model_dump(include=set(CoupaSettings.model_fields))
            ),
            deltek=DeltekSettings.model_validate(
                self.deltek.model_dump(include=set(DeltekSettings.model_fields))
            ),
            mapping=self.mapping,
            reconcile=self.reconcile,
        )
        return Connection(self.name, settings, resolved)


class ConnectionsFile(Strict):
    connections: list[ConnectionEntry]

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        names = [entry.name for entry in self.connections]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"connection names must be unique; repeated: {', '.join(twice)}")
        return self


def parse_connections(text: str, source: str) -> ConnectionsFile:
    """Validate the YAML text; every problem found is reported at once."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConnectionFileError(source, [_yaml_problem(exc)]) from None
    if not isinstance(data, dict):
        raise ConnectionFileError(source, ["the file must be a mapping with a 'connections' list"])
    try:
        return ConnectionsFile.model_validate(data)
    except ValidationError as exc:
        # ``from None``: the original error carries the input values, secrets included.
        raise ConnectionFileError(source, [_problem(e, data) for e in exc.errors()]) from None


def load_connections(path: Path, environ: Mapping[str, str]) -> list[Connection]:
    """Read, validate and resolve a connections file, or raise with every problem in it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConnectionFileError(str(path), [f"cannot read it: {exc.strerror}"]) from None
    parsed = parse_connections(text, str(path))
    problems: list[str] = []
    resolved = [entry.resolve(environ, problems) for entry in parsed.connections]
    if problems:
        raise ConnectionFileError(str(path), problems)
    return [connection for connection in resolved if connection is not None]


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Position and kind of a syntax error, without PyYAML's quote of the offending line."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"not valid YAML{where}: {getattr(exc, 'problem', None) or 'syntax error'}"


def _problem(error: Any, data: dict[str, Any]) -> str:
    """One pydantic error as "connection 'acme': coupa.scope: unknown key; allowed: ..."."""
    loc: tuple[int | str, ...] = tuple(error["loc"])
    owner = "file"
    if len(loc) >= 2 and loc[0] == "connections" and isinstance(loc[1], int):
        entries = data.get("connections")
        entry = entries[loc[1]] if isinstance(entries, list) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        owner = f"connection {name!r}" if isinstance(name, str) else f"connection #{loc[1] + 1}"
        loc = loc[2:]
    path = ".".join(str(part) for part in loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _model_at(error["loc"][:-1])
        allowed = f"; allowed here: {', '.join(model.model_fields)}" if model else ""
        return f"{owner}: unknown key {path!r}{allowed}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        message = "required key is missing"
    return f"{owner}: {path}: {message}" if path else f"{owner}: {message}"


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model that validates the mapping at ``loc``, to list the keys it accepts."""
    model: type[BaseModel] = ConnectionsFile
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model
