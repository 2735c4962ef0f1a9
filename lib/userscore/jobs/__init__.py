"""Job modules: each parses its arguments, calls one library function and writes through the catalog."""
