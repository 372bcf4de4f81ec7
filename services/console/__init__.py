"""The operator console: web pages where AP clerks work exceptions and IT watches the connector."""
