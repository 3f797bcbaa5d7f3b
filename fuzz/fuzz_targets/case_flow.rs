#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wangge_fuzz::domain_targets::case_flow(data));
