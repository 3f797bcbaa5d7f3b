#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wangge_fuzz::server_targets::territory_xlsx(data));
