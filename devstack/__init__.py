"""The local harness: the dev stack, demo, chaos run, driver and independent checker."""
