"""SDK layer: the async API, the conversation service and its forest models, export."""
