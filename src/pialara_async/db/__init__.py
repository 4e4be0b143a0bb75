"""The database connection: driver seam, client options, lifecycle."""
