"""Developer tools ``./run`` uses (not part of the installed package)."""
