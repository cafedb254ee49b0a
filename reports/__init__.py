"""Reading and writing results: schemas, tables, regression checks, leaderboard bundles. Never imports torch."""
