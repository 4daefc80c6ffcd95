"""One module per command: run(config) -> result, no printing."""
