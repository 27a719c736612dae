"""Benchmark harness: the exporter against its floors and the naive designs, on the embedded simulator."""
