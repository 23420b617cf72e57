"""Developer tools run by CI: the type check and the import-circle check."""
