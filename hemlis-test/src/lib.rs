//! The one test harness of hemlis (unpublished): what the test suites, the fuzz targets and
//! the benchmarks share.
#![forbid(unsafe_code)]
