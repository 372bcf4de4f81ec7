"""``connector preview``: what the connector would do to Deltek, read from Coupa and Deltek only."""
