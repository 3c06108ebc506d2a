//! Any bytes in a server log of the `json` format, line by line: never a panic.
#![no_main]

#[path = "common/logs.rs"]
mod logs;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    logs::feed(pganalytics_domain::logs::LogFormat::Json, data);
});
