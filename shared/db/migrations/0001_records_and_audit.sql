-- One row per Coupa object and version, and the append-only story of each (architecture §3).

CREATE TABLE records (
    id          bigserial PRIMARY KEY,
    record_key  text        NOT NULL,            -- {connection}:{kind}:{coupa id}
    connection  text        NOT NULL,
    kind        text        NOT NULL,            -- invoice | supplier
    coupa_id    text        NOT NULL,
    version     text        NOT NULL,            -- Coupa's updated-at of this version
    state       text        NOT NULL DEFAULT 'received'
        CHECK (state IN ('received', 'mapped', 'parked', 'posting', 'posted', 'failed')),
    payload     jsonb       NOT NULL,
    deltek_ref  text,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (record_key, version)
);

CREATE INDEX records_state_idx ON records (connection, state, updated_at);

CREATE TABLE audit_events (
    id           bigserial PRIMARY KEY,
    record_key   text        NOT NULL,
    record_id    bigint      REFERENCES records (id),
    service      text        NOT NULL,
    event        text        NOT NULL,
    details      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    topic        text,
    kafka_partition integer,
    kafka_offset bigint,
    occurred_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX audit_events_record_idx ON audit_events (record_key, id);
