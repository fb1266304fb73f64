"""Command handlers, grouped by area; `domain.application.Governance` combines them."""
