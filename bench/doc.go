// Command bench measures bootstrap against its baselines and writes the
// report (docs/benchmarks.md) and its charts.
package main
