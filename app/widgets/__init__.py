"""Grove's widgets: each receives state from above and posts Messages upward."""
