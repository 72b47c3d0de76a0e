"""CLaC core library."""
