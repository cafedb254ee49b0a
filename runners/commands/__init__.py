"""One module per `nava-eval` subcommand; each defines a click command named `command`."""
