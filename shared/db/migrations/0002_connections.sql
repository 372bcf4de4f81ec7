-- Connections (one Coupa instance <-> one Deltek tenant) and their encrypted secrets (architecture §3).

CREATE TABLE connections (
    -- The name prefixes every record key ({connection}:{kind}:{id}) and URL path, hence the charset.
    name        text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    settings    jsonb       NOT NULL,            -- everything but secrets
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One AES-GCM ciphertext per secret; the associated data binds it to (connection, field).
CREATE TABLE credentials (
    connection  text        NOT NULL REFERENCES connections (name) ON DELETE CASCADE,
    field       text        NOT NULL,            -- e.g. coupa.client_secret
    key_id      text        NOT NULL,            -- which master key sealed it
    nonce       bytea       NOT NULL CHECK (octet_length(nonce) = 12),
    ciphertext  bytea       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection, field)
);

CREATE INDEX credentials_key_idx ON credentials (key_id);
