"""Grove's Textual app and the `grove` command line."""
