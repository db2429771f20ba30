//! Side-by-side benchmarks: filled in by the speed issue.
