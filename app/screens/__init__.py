"""Grove's screens."""
