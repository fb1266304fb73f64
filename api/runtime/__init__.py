"""What a process runs on: settings, the database, the signing key, workers, the build."""
