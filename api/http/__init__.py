"""The HTTP API: app, dependencies, auth, permissions, visibility, problems, routes, schemas."""
