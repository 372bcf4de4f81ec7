"""In-memory simulators of the outside systems (Coupa, Deltek) for tests, demos and benchmarks."""
