"""Compile on the host (Go first) and append the result to a base image as one layer."""
