"""The mapper's pure rules: Coupa JSON in, Deltek commands or reasons to park out; no I/O."""
